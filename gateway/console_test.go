package gateway_test

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// The console is served without a key, from the binary, with a strict CSP and revalidation.
func TestConsoleFiles(t *testing.T) {
	keys := newEnv(t, options{})
	open := newEnv(t, options{open: true})
	for _, tc := range []struct {
		e           *env
		path, ctype string
		contains    string
	}{
		{keys, "/", "text/html; charset=utf-8", `<meta name="streamgate-auth" content="keys">`},
		{open, "/", "text/html; charset=utf-8", `<meta name="streamgate-auth" content="open">`},
		{keys, "/console/app.js", "text/javascript; charset=utf-8", "class FetchEvents"},
		{keys, "/console/app.css", "text/css; charset=utf-8", ":root"},
		{keys, "/console/icon.svg", "image/svg+xml", "<svg"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp := tc.e.request("GET", tc.path, "", nil)
			body := readAllTB(t, resp)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			assert.Equal(t, tc.ctype, resp.Header.Get("Content-Type"))
			assert.Equal(t, wantCSP, resp.Header.Get("Content-Security-Policy"))
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
			assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
			assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
			assert.Contains(t, string(body), tc.contains)

			etag := resp.Header.Get("ETag")
			require.Regexp(t, `^"[0-9a-f]{16}"$`, etag)
			again := tc.e.request("GET", tc.path, "", nil, "If-None-Match", etag)
			readAllTB(t, again)
			assert.Equal(t, http.StatusNotModified, again.StatusCode)
		})
	}
	for _, path := range []string{"/console/index.html", "/console/nope.js", "/console/"} {
		status, body := keys.do("GET", path, "", nil)
		requireError(t, http.StatusNotFound, "NOT_FOUND", status, body)
	}
}

// Nothing in the console's files runs inline or comes from another origin, so the CSP holds
// without exceptions.
func TestConsoleIsSelfContained(t *testing.T) {
	files := map[string]string{}
	require.NoError(t, fs.WalkDir(os.DirFS("console"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join("console", p))
		files[p] = string(b)
		return err
	}))
	require.Contains(t, files, "index.html")
	page := files["index.html"]
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		assert.Regexp(t, `src="/console/[a-z]+\.js"`, m, "no inline script")
	}
	assert.NotRegexp(t, `(?i)\sstyle=|<style|\son[a-z]+=|javascript:`, page, "no inline style or handler")
	for name, text := range files {
		assert.NotRegexp(t, `(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`, stripSVGNamespace(text), "%s refers to another origin", name)
		assert.NotContains(t, text, "?key=", "%s puts a key in a URL", name)
	}
	assert.NotContains(t, files["app.js"], "innerHTML", "text is set with textContent, never parsed as HTML")
}

// stripSVGNamespace removes the SVG namespace URI, a name rather than a request.
func stripSVGNamespace(s string) string {
	return strings.ReplaceAll(s, `xmlns="http://www.w3.org/2000/svg"`, "")
}
