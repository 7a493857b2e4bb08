package upstreamtest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Server is a Fake served over HTTP on a loopback address.
type Server struct {
	*Fake
	srv *httptest.Server
}

// NewServer starts a Fake playing def by default on a loopback httptest.Server, closed when the
// test ends.
func NewServer(tb testing.TB, def Script) *Server {
	tb.Helper()
	s := &Server{Fake: NewFake(def)}
	s.srv = httptest.NewServer(s.Fake)
	tb.Cleanup(s.Close)
	return s
}

// URL returns the server's base URL, "http://127.0.0.1:port".
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close ends every stall, closes every connection and shuts the server down.
func (s *Server) Close() {
	s.Fake.Close()
	s.srv.CloseClientConnections()
	s.srv.Close()
}
