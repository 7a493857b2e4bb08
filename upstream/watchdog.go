package upstream

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// watchdog enforces Timeouts.FirstEvent and Timeouts.Idle on one attempt by cancelling its
// context with errFirstEvent or errIdle. Until the first event one timer runs for FirstEvent; from
// then on it bounds the silence since the last read that returned bytes. It is also the response
// body as the attempt reads it (watch), so that a read touches one object.
//
// The idle timer is lazy: a read only stores when it happened (one atomic store), and the timer,
// when it fires, re-arms itself for what is left of Idle after that read, or cancels. Re-arming a
// timer on every read, as ReverseProxy never does, cost a timer-heap update per read
// (time.(*Timer).Reset and runtime.(*timer).modify, 108 of streamgate's 9,255 perf samples at 256
// streams); now a steady stream re-arms it about once per Idle.
type watchdog struct {
	// What every read touches, first and together: 64 bytes, one cache line.
	body io.Reader    // the response body being read (watch)
	tee  io.Writer    // where the body's bytes are copied as they arrive, or nil
	last atomic.Int64 // when bytes last arrived, in nanoseconds since base
	base time.Time    // when the attempt started: the origin of last, read from the monotonic clock

	mu    sync.Mutex // serialises the timer's expiry with firstEvent and stop
	phase watchPhase // guarded by mu
	// from is when the first event came, since base: the idle timeout counts from it as from a
	// read. It is not stored in last, which stamps the events still buffered from the read that
	// brought the first one (lastRead). Guarded by mu.
	from   time.Duration
	timer  *time.Timer
	idle   time.Duration
	cancel context.CancelCauseFunc

	// _ pads the watchdog to 128 bytes, a size class whose objects start on a cache line, so
	// that the fields a read touches share one line (TestWatchdogSize).
	_ [16]byte
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

// watch returns the response body rc as the attempt reads it: every read that returns bytes is
// activity, and its bytes are copied to tee (when not nil), whose Write must not fail.
func (w *watchdog) watch(rc io.Reader, tee io.Writer) io.Reader {
	w.body, w.tee = rc, tee
	return w
}

// Read reads the watched body. A read that returns bytes only stores when it returned: one
// reading of the monotonic clock, which lastRead turns back into a time.
func (w *watchdog) Read(p []byte) (int, error) {
	n, err := w.body.Read(p)
	if n > 0 {
		w.touch()
		if w.tee != nil {
			_, _ = w.tee.Write(p[:n]) // a tee's Write never fails (bodyDialect.tee)
		}
	}
	return n, err
}

// touch notes that bytes arrived now.
func (w *watchdog) touch() {
	w.last.Store(int64(time.Since(w.base)))
}

// lastRead is when the last read that returned bytes returned. The parser reads only when it
// needs more input, so when it returns an event this is when the event's last byte arrived.
func (w *watchdog) lastRead() time.Time {
	return w.base.Add(time.Duration(w.last.Load()))
}

// silence is how long ago bytes last arrived, or the first event came if that was later. mu
// must be held.
func (w *watchdog) silence() time.Duration {
	return time.Since(w.base) - max(time.Duration(w.last.Load()), w.from)
}

// firstEvent switches from the first-event timeout to the idle timeout, counted from now. It does
// nothing once the watchdog expired or stopped.
func (w *watchdog) firstEvent() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.phase != watchFirst {
		return
	}
	w.phase = watchIdle
	w.from = time.Since(w.base)
	if w.idle == NoTimeout {
		w.timer.Stop()
		return
	}
	w.timer.Reset(w.idle)
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
