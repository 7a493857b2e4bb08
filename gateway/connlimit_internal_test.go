package gateway

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeListener accepts one end of a fresh net.Pipe at every Accept, at once.
type pipeListener struct {
	mu     sync.Mutex
	closed bool
	ends   []net.Conn
}

func (l *pipeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, net.ErrClosed
	}
	a, b := net.Pipe()
	l.ends = append(l.ends, b)
	return a, nil
}

func (l *pipeListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for _, c := range l.ends {
		c.Close()
	}
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// The connection limit holds Accept while max connections are open, until http.Server reports
// one closed or hijacked (its ConnState hook); the other states free nothing, and Close ends a
// waiting Accept with net.ErrClosed.
func TestConnLimitFreesSlotsOnConnState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := limitListener(&pipeListener{}, 2, slog.New(slog.DiscardHandler))
		a, err := ln.Accept()
		require.NoError(t, err)
		b, err := ln.Accept()
		require.NoError(t, err)

		type accepted struct {
			c   net.Conn
			err error
		}
		next := make(chan accepted, 1)
		accept := func() {
			go func() {
				c, err := ln.Accept()
				next <- accepted{c, err}
			}()
			synctest.Wait()
		}
		accept()
		for _, st := range []http.ConnState{http.StateNew, http.StateActive, http.StateIdle} {
			ln.connState(a, st)
			synctest.Wait()
			require.Empty(t, next, "a connection in state %s freed its slot", st)
		}
		for _, st := range []http.ConnState{http.StateClosed, http.StateHijacked} {
			ln.connState(a, st)
			synctest.Wait()
			require.Len(t, next, 1, "%s freed no slot", st)
			got := <-next
			require.NoError(t, got.err)
			a = got.c
			accept()
			require.Empty(t, next)
		}
		require.NoError(t, ln.Close())
		synctest.Wait()
		got := <-next
		assert.ErrorIs(t, got.err, net.ErrClosed)
		_, err = ln.Accept()
		assert.ErrorIs(t, err, net.ErrClosed)
		a.Close()
		b.Close()
	})
}
