package gateway

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/manager"
)

// statusJSON answers GET /v1/status: the gateway and the caller's tenant at a glance, what the
// console's Health view shows.
type statusJSON struct {
	Version  string `json:"version"`
	Upstream string `json:"upstream"`
	// Open is true without client keys; Tokens is true when stream tokens can be minted.
	Open   bool `json:"open"`
	Tokens bool `json:"tokens"`
	// ActiveStreams and Subscribers count the tenant's active streams and their clients.
	ActiveStreams int `json:"active_streams"`
	Subscribers   int `json:"subscribers"`
	// ChunksPerSecond is the chunks the tenant's streams got in each of the last 60 whole
	// seconds, oldest first, as counted by the lifecycle feed's tick (watch.go).
	ChunksPerSecond []uint64 `json:"chunks_per_second"`
}

// status serves GET /v1/status.
func (s *Server) status(c *gin.Context) error {
	tenant := identity(c).Tenant
	infos, err := s.cfg.Streams.List(c.Request.Context(), tenant)
	if err != nil {
		return err
	}
	out := statusJSON{
		Version:         s.cfg.Version,
		Upstream:        s.cfg.Upstream,
		Open:            s.Open(),
		Tokens:          s.cfg.Tokens != nil && !s.Open(),
		ChunksPerSecond: s.feed.chunkRates(tenant, time.Now()),
	}
	for _, info := range infos {
		if info.Status == manager.StatusActive {
			out.ActiveStreams++
			out.Subscribers += info.Clients
		}
	}
	c.Header("Cache-Control", "no-store")
	return writeJSON(c, http.StatusOK, out)
}
