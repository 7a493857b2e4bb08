package gateway

import (
	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/auth"
)

// authenticate is the middleware of every authenticated route: it identifies the caller by the key
// it presents (open mode: everyone is tenant ""), strips that key from the request so it goes no
// further, and applies the per-key rate limit. On the two routes a stream token opens it accepts
// a token too (authenticateRead).
func (s *Server) authenticate(c *gin.Context) error {
	if isReadRoute(c) && !s.Open() {
		return s.authenticateRead(c)
	}
	var id auth.Identity
	if s.cfg.Keyring.Len() > 0 {
		var err error
		id, err = s.cfg.Keyring.AuthenticateRequest(c.Request)
		if err != nil {
			auth.StripKey(c.Request)
			return err
		}
	}
	auth.StripKey(c.Request)
	if err := s.allow(c.Request.Context(), id.KeyID); err != nil {
		return err
	}
	setIdentity(c, id)
	return nil
}

// setIdentity records the caller's identity in the request (observe's), not in gin's Keys, whose
// map would be made again for every request.
func setIdentity(c *gin.Context, id auth.Identity) {
	if r := requestFrom(c.Request.Context()); r != nil {
		r.who = id
	}
}

// identity returns the caller's identity set by authenticate.
func identity(c *gin.Context) auth.Identity {
	if r := requestFrom(c.Request.Context()); r != nil {
		return r.who
	}
	return auth.Identity{}
}
