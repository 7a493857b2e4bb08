package gateway

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/auth"
)

// errTokensOpen answers the token route of a gateway without keys: every local client may read
// every stream there without any credential, so a token would grant nothing.
var errTokensOpen = newErrorStatus(http.StatusNotImplemented, "UNIMPLEMENTED",
	"stream tokens need client keys: without auth.keys the gateway is open and every local client reads every stream without one")

// tokenRequest is the body of POST /v1/streams/{id}/tokens; the body may be empty.
type tokenRequest struct {
	// TTL is a Go duration ("10m"); empty means auth.DefaultTokenTTL.
	TTL string `json:"ttl"`
}

// tokenJSON answers POST /v1/streams/{id}/tokens.
type tokenJSON struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// mintToken serves POST /v1/streams/{id}/tokens: a stream token granting read access to one of the
// caller's streams. Only a key reaches it (authenticate refuses a token as a wrong key), so no
// token can extend itself. The answer is never cached: it is a credential.
func (s *Server) mintToken(c *gin.Context) error {
	if s.Open() {
		return errTokensOpen
	}
	if s.cfg.Tokens == nil {
		return auth.ErrTokensOff
	}
	info, err := s.lookup(c)
	if err != nil {
		return err
	}
	ttl, err := s.readTokenTTL(c)
	if err != nil {
		return err
	}
	token, exp, err := s.cfg.Tokens.Mint(info.ID, identity(c).Tenant, ttl)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	return writeJSON(c, http.StatusCreated, tokenJSON{Token: token, ExpiresAt: exp})
}

// readTokenTTL reads the token route's optional body and returns its ttl, 0 for the default.
func (s *Server) readTokenTTL(c *gin.Context) (time.Duration, error) {
	body, err := s.readBody(c)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return 0, err
	}
	var req tokenRequest
	if err := decodeJSON(body, &req); err != nil {
		return 0, err
	}
	if req.TTL == "" {
		return 0, nil
	}
	ttl, err := time.ParseDuration(req.TTL)
	if err != nil {
		return 0, newError(http.StatusBadRequest, "ttl must be a duration such as \"10m\", got "+strconv.Quote(req.TTL))
	}
	return ttl, nil
}

// isReadRoute reports whether c is routed to one of the two routes a stream token opens. It goes
// by the route pattern gin matched, so that these routes keep every middleware of the others.
func isReadRoute(c *gin.Context) bool {
	if c.Request.Method != http.MethodGet {
		return false
	}
	switch c.FullPath() {
	case "/v1/streams/:id", "/v1/streams/:id/events":
		return true
	}
	return false
}

// authenticateRead is the middleware of the two routes a stream token opens, a stream's events and
// info: a key as on every route, or a token for the stream named by :id (auth.AuthenticateRead).
// A refused token answers exactly as a wrong key, and so does a valid token on a stream that now
// belongs to another tenant than the token's. Key and token are stripped from the request
// before anything else sees it, on success and failure alike.
func (s *Server) authenticateRead(c *gin.Context) error {
	streamID := c.Param("id")
	id, err := s.cfg.Keyring.AuthenticateRead(c.Request, s.cfg.Tokens, streamID)
	auth.StripKey(c.Request)
	if err == nil && id.ViaToken() {
		err = s.tokenTenant(c, streamID, id.Tenant)
	}
	if err != nil {
		// The reasons are fixed texts that never quote the token.
		s.logFor(c.Request.Context()).Debug("read refused", "stream_id", streamID, "error", err)
		return err
	}
	if err := s.allow(c.Request.Context(), id.KeyID); err != nil {
		return err
	}
	setIdentity(c, id)
	return nil
}

// tokenTenant refuses a token for a stream that belongs to another tenant than the token's (its
// ID was used again, or the token was minted offline with a wrong tenant) as a wrong key. An
// unknown stream is left to the handler, which answers 404 as it would to a key of the tenant.
func (s *Server) tokenTenant(c *gin.Context, streamID, tenant string) error {
	info, err := s.cfg.Streams.Info(c.Request.Context(), streamID)
	if err != nil || visibleTo(info, tenant) {
		return nil
	}
	return fmt.Errorf("%w: %w: the stream belongs to another tenant", auth.ErrUnknownKey, auth.ErrInvalidToken)
}
