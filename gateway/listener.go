package gateway

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// acceptLogEvery is the least time between two accept-error log lines. Accept fails in bursts
// (every retry of a full fd table fails again), and one line a burst says what an operator needs.
const acceptLogEvery = 5 * time.Second

// limitListener bounds ln to max open connections and logs its accept errors at warn. The
// http.Server serving it must report its connections' states to the listener's connState, which
// frees a connection's slot when it closes.
//
// net/http retries a temporary accept error (EMFILE when the process is out of file descriptors)
// and logs it only through http.Server.ErrorLog, which the gateway keeps at debug: an operator at
// info saw nothing while 19,990 idle connections starved every tenant (issue 10).
func limitListener(ln net.Listener, max int, log *slog.Logger) limitedListener {
	limit := &connLimit{Listener: ln, sem: make(chan struct{}, max), done: make(chan struct{})}
	return &loggedListener{
		Listener: limit,
		limit:    limit,
		log:      log,
		every:    rate.NewLimiter(rate.Every(acceptLogEvery), 1),
	}
}

// limitedListener is a listener whose connections are counted until http.Server reports them
// closed through connState (its ConnState hook).
type limitedListener interface {
	net.Listener
	connState(net.Conn, http.ConnState)
}

// connLimit is netutil.LimitListener without its wrapper around every connection, which put an
// interface call and a cold object on every read and write (a Gemini-route chunk costs one of
// each): net/http reports every connection it served closed or hijacked through ConnState,
// exactly once, and that frees the slot. Beyond the acceptance it behaves as netutil's: Accept
// waits for a free slot before it accepts, so further clients wait in the kernel's accept queue,
// and Close ends that wait. A hijacked connection frees its slot at the hijack, not at its close;
// the gateway hijacks none.
type connLimit struct {
	net.Listener
	sem       chan struct{} // one element per open connection
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

func (l *connLimit) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return c, nil
}

func (l *connLimit) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// connState frees a connection's slot at its end.
func (l *connLimit) connState(_ net.Conn, state http.ConnState) {
	if state == http.StateClosed || state == http.StateHijacked {
		<-l.sem
	}
}

// loggedListener logs accept errors, at most one line per acceptLogEvery with the count of the
// errors it did not log.
type loggedListener struct {
	net.Listener
	limit      *connLimit
	log        *slog.Logger
	every      *rate.Limiter
	suppressed atomic.Int64
}

func (l *loggedListener) connState(c net.Conn, state http.ConnState) { l.limit.connState(c, state) }

func (l *loggedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		l.logAcceptError(err)
	}
	return c, err
}

func (l *loggedListener) logAcceptError(err error) {
	if !l.every.Allow() {
		l.suppressed.Add(1)
		return
	}
	l.log.Warn("accept connection failed", "err", err, "addr", l.Addr().String(),
		"suppressed", l.suppressed.Swap(0))
}
