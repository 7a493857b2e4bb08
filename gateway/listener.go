package gateway

import (
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"
	"golang.org/x/time/rate"
)

// acceptLogEvery is the least time between two accept-error log lines. Accept fails in bursts
// (every retry of a full fd table fails again), and one line a burst says what an operator needs.
const acceptLogEvery = 5 * time.Second

// limitListener bounds ln to max open connections and logs its accept errors at warn.
//
// net/http retries a temporary accept error (EMFILE when the process is out of file descriptors)
// and logs it only through http.Server.ErrorLog, which the gateway keeps at debug: an operator at
// info saw nothing while 19,990 idle connections starved every tenant (issue 10).
func limitListener(ln net.Listener, max int, log *slog.Logger) net.Listener {
	return &loggedListener{
		Listener: netutil.LimitListener(ln, max),
		log:      log,
		every:    rate.NewLimiter(rate.Every(acceptLogEvery), 1),
	}
}

// loggedListener logs accept errors, at most one line per acceptLogEvery with the count of the
// errors it did not log.
type loggedListener struct {
	net.Listener
	log        *slog.Logger
	every      *rate.Limiter
	suppressed atomic.Int64
}

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
