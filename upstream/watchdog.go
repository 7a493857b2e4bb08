package upstream

import (
	"context"
	"sync/atomic"
	"time"
)

// watchdog enforces Timeouts.FirstEvent and Timeouts.Idle on one attempt by cancelling its
// context with errFirstEvent or errIdle. Until the first event one timer runs for FirstEvent; from
// then on every read that returns bytes re-arms it for Idle.
type watchdog struct {
	timer   *time.Timer
	idle    time.Duration
	started atomic.Bool // the first event arrived: the timer is the idle timer
}

func newWatchdog(t Timeouts, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{idle: t.Idle}
	w.timer = time.AfterFunc(t.FirstEvent, func() {
		if w.started.Load() {
			cancel(errIdle)
		} else {
			cancel(errFirstEvent)
		}
	})
	if t.FirstEvent == NoTimeout {
		w.timer.Stop()
	}
	return w
}

// firstEvent switches from the first-event timeout to the idle timeout.
func (w *watchdog) firstEvent() {
	w.started.Store(true)
	if w.idle == NoTimeout {
		w.timer.Stop()
		return
	}
	w.timer.Reset(w.idle)
}

// activity re-arms the idle timer after bytes arrived.
func (w *watchdog) activity() {
	if w.started.Load() && w.idle != NoTimeout {
		w.timer.Reset(w.idle)
	}
}

func (w *watchdog) stop() { w.timer.Stop() }
