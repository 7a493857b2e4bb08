package plugins

import (
	"context"

	"github.com/streamgate/streamgate/upstream"
)

// handlerDecider asks an error-handler plugin to decide. A plugin that is down, slow or failing
// defers (ActionDefault), so the built-in policy applies.
type handlerDecider struct {
	s *supervisor
}

var _ upstream.Decider = handlerDecider{}

// Decide implements upstream.Decider.
func (d handlerDecider) Decide(ctx context.Context, info upstream.ErrorInfo) upstream.Decision {
	p := d.s.current()
	if p == nil {
		d.s.log.Warn("error handler is down; deferring", "stream_id", info.StreamID)
		return upstream.Decision{}
	}
	ctx, cancel := context.WithTimeout(ctx, d.s.hc.DecisionTimeout)
	defer cancel()
	resp, err := p.conn.handler.Handle(ctx, errorInfoToPB(info))
	if err != nil {
		d.s.log.Warn("error handler failed; deferring", "stream_id", info.StreamID, "error", err)
		return upstream.Decision{}
	}
	return decisionFromPB(resp)
}
