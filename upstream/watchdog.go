package upstream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// watchdog enforces Timeouts.FirstEvent and Timeouts.Idle on one attempt by cancelling its
// context with errFirstEvent or errIdle. Until the first event one timer runs for FirstEvent; from
// then on it bounds the silence since the last read that returned bytes.
//
// The idle timer is lazy: a read only stores when it happened (activity, one atomic store), and
// the timer, when it fires, re-arms itself for what is left of Idle after that read, or cancels.
// Re-arming a timer on every read, as ReverseProxy never does, cost a timer-heap update per read
// (time.(*Timer).Reset and runtime.(*timer).modify, 2% of the gateway's CPU at 256 streams); now
// a steady stream re-arms it about once per Idle.
type watchdog struct {
	base time.Time    // the origin of last, for monotonic offsets
	last atomic.Int64 // when bytes last arrived, in nanoseconds since base

	mu     sync.Mutex // serialises the timer's expiry with firstEvent and stop
	phase  watchPhase // guarded by mu
	timer  *time.Timer
	idle   time.Duration
	cancel context.CancelCauseFunc
}

// watchPhase is what a watchdog's timer stands for.
type watchPhase uint8

const (
	watchFirst   watchPhase = iota // the wait for the first event
	watchIdle                      // the silence since the last read
	watchStopped                   // nothing: stopped, or expired and cancelled
)

func newWatchdog(t Timeouts, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{base: time.Now(), idle: t.Idle, cancel: cancel}
	w.timer = time.AfterFunc(t.FirstEvent, w.expire)
	if t.FirstEvent == NoTimeout {
		w.timer.Stop()
	}
	return w
}

// activity notes that a read returned bytes at now, a time.Now reading. It only stores: the
// timer looks at it when it fires.
func (w *watchdog) activity(now time.Time) {
	w.last.Store(int64(now.Sub(w.base)))
}

// silence is how long ago bytes last arrived.
func (w *watchdog) silence() time.Duration {
	return time.Since(w.base) - time.Duration(w.last.Load())
}

// firstEvent switches from the first-event timeout to the idle timeout, counted from now. It does
// nothing once the watchdog expired or stopped.
func (w *watchdog) firstEvent() {
	w.activity(time.Now())
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.phase != watchFirst {
		return
	}
	w.phase = watchIdle
	if w.idle == NoTimeout {
		w.timer.Stop()
		return
	}
	w.timer.Reset(w.idle - w.silence())
}

// expire is the timer's function. In the idle phase it re-arms the timer when bytes arrived since
// it was set; otherwise it cancels the attempt, once. It cancels under mu, so that no cancel
// follows a stop.
func (w *watchdog) expire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.phase {
	case watchFirst:
		w.cancel(errFirstEvent)
	case watchIdle:
		if rest := w.idle - w.silence(); rest > 0 {
			w.timer.Reset(rest)
			return
		}
		w.cancel(errIdle)
	default:
		return
	}
	w.phase = watchStopped
}

// stop ends the watchdog: once it returns, the attempt is never cancelled by it.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.phase = watchStopped
	w.timer.Stop()
}
