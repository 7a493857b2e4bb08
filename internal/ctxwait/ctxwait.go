// Package ctxwait holds the one wait that both upstream (retry backoff, the simulator's pacing) and
// plugins (restart and re-attach backoff) need: a sleep that a context ends early. It imports
// nothing of the project, so that any package may use it (issue 9: it had two copies).
package ctxwait

import (
	"context"
	"time"
)

// Sleep waits d or until ctx ends, and reports whether the wait ran to its end. A d of zero or less
// does not wait: it reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
