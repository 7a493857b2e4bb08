package gateway

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fdExhausted is a listener whose Accept fails as a process out of file descriptors does.
type fdExhausted struct{ net.Listener }

func (fdExhausted) Accept() (net.Conn, error) {
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
}

// Accept errors are logged at warn, one line per acceptLogEvery with the count of the others; a
// closed listener is not an error worth a line.
func TestAcceptErrorsAreLoggedAtWarnRateLimited(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer tcp.Close()
	var logs bytes.Buffer
	ln := limitListener(fdExhausted{tcp}, 10, slog.New(slog.NewTextHandler(&logs, nil)))
	for range 50 {
		_, err := ln.Accept()
		require.ErrorIs(t, err, syscall.EMFILE)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 1, logs.String())
	assert.Contains(t, lines[0], "level=WARN")
	assert.Contains(t, lines[0], `msg="accept connection failed"`)
	assert.Contains(t, lines[0], "too many open files")
	assert.Contains(t, lines[0], "suppressed=0")

	l := ln.(*loggedListener)
	assert.Equal(t, int64(49), l.suppressed.Load())
	l.every.SetBurst(1)
	l.every.SetLimit(1e9) // let the next line through at once
	_, _ = ln.Accept()
	assert.Contains(t, logs.String(), "suppressed=49")

	logs.Reset()
	require.NoError(t, tcp.Close())
	_, err = limitListener(tcp, 10, slog.New(slog.NewTextHandler(&logs, nil))).Accept()
	require.True(t, errors.Is(err, net.ErrClosed))
	assert.Empty(t, logs.String())
}
