package main_test

import (
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The ready line ends with the console's URL, which serves the embedded console.
func TestReadyLineNamesTheConsole(t *testing.T) {
	p := start(t, t.TempDir(), nil, "-listen", "127.0.0.1:0")
	require.True(t, strings.HasSuffix(p.ready, "; console: "+p.url+"/"), p.ready)
	resp, err := http.Get(p.url + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
	assert.Equal(t, 0, p.stop(syscall.SIGTERM))
}
