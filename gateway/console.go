package gateway

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"

	"github.com/gin-gonic/gin"
)

// The console (GET /) is plain HTML, CSS and JavaScript embedded in the binary, with no build step:
// a live table of the caller's streams from the lifecycle feed, a watch view of one stream, a
// prompt box that starts a generation, and the gateway's health. It is served without a key (it
// holds none); everything it shows it fetches with the key the user enters, which it keeps in
// the tab's sessionStorage and sends as a header. It reads a stream with an EventSource whose URL
// carries a stream token (POST /v1/streams/{id}/tokens), never the key, and the lifecycle feed
// with fetch and the key header, since an EventSource cannot send one. With keys but no
// auth.token_secret it reads streams with fetch too. It serves nothing per chunk: the hot path
// does not know it exists.
//
//go:embed console
var consoleFS embed.FS

// consoleCSP allows the gateway's own origin only, and no inline script or style.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// consoleAsset is one embedded file, ready to serve.
type consoleAsset struct {
	body        []byte
	contentType string
	etag        string
}

// The console's files by name, and its page in its two versions: for a gateway with keys (the
// console asks for one before its first request) and for an open one.
var (
	consoleAssets                    = loadConsole()
	consolePageKeys, consolePageOpen = consolePage("keys"), consolePage("open")
)

var consoleTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

func loadConsole() map[string]consoleAsset {
	out := map[string]consoleAsset{}
	entries, err := fs.ReadDir(consoleFS, "console")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	for _, e := range entries {
		if ct, ok := consoleTypes[path.Ext(e.Name())]; ok {
			out[e.Name()] = newConsoleAsset(mustRead("console/"+e.Name()), ct)
		}
	}
	return out
}

func consolePage(auth string) consoleAsset {
	page := bytes.Replace(mustRead("console/index.html"), []byte("{{auth}}"), []byte(auth), 1)
	return newConsoleAsset(page, "text/html; charset=utf-8")
}

func mustRead(name string) []byte {
	b, err := consoleFS.ReadFile(name)
	if err != nil {
		panic(err) // the embedded files are part of the binary
	}
	return b
}

func newConsoleAsset(body []byte, contentType string) consoleAsset {
	sum := sha256.Sum256(body)
	return consoleAsset{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// consolePageRoute serves GET /.
func (s *Server) consolePageRoute(c *gin.Context) error {
	page := consolePageKeys
	if s.Open() {
		page = consolePageOpen
	}
	serveConsole(c, page)
	return nil
}

// consoleFile serves GET /console/{file}.
func (s *Server) consoleFile(c *gin.Context) error {
	a, ok := consoleAssets[c.Param("file")]
	if !ok {
		return noRoute(c)
	}
	serveConsole(c, a)
	return nil
}

// serveConsole answers a console file with headers that keep the page to its own origin and
// revalidate it (its ETag is its content's hash), so that a new binary's console is loaded.
func serveConsole(c *gin.Context, a consoleAsset) {
	h := c.Writer.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(c.Writer, c.Request, "", time.Time{}, bytes.NewReader(a.body))
}
