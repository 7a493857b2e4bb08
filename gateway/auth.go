package gateway

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/auth"
)

// identityKey is the gin context key of the caller's auth.Identity.
const identityKey = "streamgate.identity"

// authenticate is the middleware of every authenticated route: it identifies the caller by the key
// it presents (open mode: everyone is tenant ""), strips that key from the request so it goes no
// further, and applies the per-key rate limit.
func (s *Server) authenticate(c *gin.Context) {
	var id auth.Identity
	if s.cfg.Keyring.Len() > 0 {
		var err error
		id, err = s.cfg.Keyring.AuthenticateRequest(c.Request)
		if err != nil {
			auth.StripKey(c.Request)
			writeError(c, newError(http.StatusUnauthorized, authMessage(err)))
			return
		}
	}
	auth.StripKey(c.Request)
	if e := s.limits.allow(id.KeyID); e != nil {
		writeError(c, e)
		return
	}
	c.Set(identityKey, id)
}

// authMessage explains a failed authentication; none of auth's errors contains the key.
func authMessage(err error) string {
	switch {
	case errors.Is(err, auth.ErrNoKey):
		return "API key required: send it as x-goog-api-key, Authorization: Bearer or ?key="
	case errors.Is(err, auth.ErrUnknownKey):
		return "API key not valid. Please pass a valid API key."
	}
	return err.Error()
}

// identity returns the caller's identity set by authenticate.
func identity(c *gin.Context) auth.Identity {
	v, _ := c.Get(identityKey)
	id, _ := v.(auth.Identity)
	return id
}
