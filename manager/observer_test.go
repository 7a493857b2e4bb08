package manager_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// observer records every call as a line. It calls back into the manager on each, which would
// deadlock if the manager called it with a lock held.
type observer struct {
	m *manager.Manager

	mu    sync.Mutex
	calls []string
}

func (o *observer) StreamOpened(info manager.StreamInfo) {
	o.record(fmt.Sprintf("opened %s %s kind=%s", info.ID, info.Status, info.Labels[manager.LabelKind]))
}

func (o *observer) StreamClosed(info manager.StreamInfo) {
	code := 0
	if info.Err != nil {
		code = info.Err.Code
	}
	o.record(fmt.Sprintf("closed %s %s kind=%s reason=%q code=%d", info.ID, info.Status, info.Labels[manager.LabelKind], info.CloseReason, code))
}

func (o *observer) record(line string) {
	_, _ = o.m.Usage(context.Background())
	_, _ = o.m.ActiveStreamIDs(context.Background())
	o.mu.Lock()
	o.calls = append(o.calls, line)
	o.mu.Unlock()
}

func (o *observer) lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.calls...)
}

// newObserved returns a manager with an observer that records its calls.
func newObserved(t *testing.T, cfg manager.Config) (*manager.Manager, *observer) {
	t.Helper()
	o := &observer{}
	cfg.Observer = o
	m, _ := newManager(t, cfg)
	o.m = m
	return m, o
}

func TestObserverSeesEveryOpenAndCloseOnce(t *testing.T) {
	labels := map[string]string{manager.LabelKind: "generate"}
	for _, tc := range []struct {
		name  string
		close func(m *manager.Manager, id string)
		want  string
	}{
		{"close", func(m *manager.Manager, id string) {
			require.NoError(t, m.CloseStream(ctx, id, "done"))
			require.NoError(t, m.CloseStream(ctx, id, "again"))
		}, `closed %s completed kind=generate reason="done" code=0`},
		{"terminate", func(m *manager.Manager, id string) {
			se := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "busy"}
			require.NoError(t, m.HandleStreamError(ctx, id, se, false), "an error that does not terminate closes nothing")
			require.NoError(t, m.HandleStreamError(ctx, id, se, true))
			require.NoError(t, m.CloseStream(ctx, id, "again"))
		}, `closed %s error kind=generate reason="Stream terminated due to error: busy" code=503`},
		{"shutdown", func(m *manager.Manager, id string) {
			require.NoError(t, m.Shutdown(ctx))
		}, `closed %s error kind=generate reason="shutting down" code=503`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, o := newObserved(t, manager.Config{})
			id, err := m.CreateStreamWith(ctx, manager.StreamOptions{Labels: labels})
			require.NoError(t, err)
			require.Equal(t, []string{"opened " + id + " active kind=generate"}, o.lines())
			push(t, m, id, "a")
			tc.close(m, id)
			require.Equal(t, []string{"opened " + id + " active kind=generate", fmt.Sprintf(tc.want, id)}, o.lines())
		})
	}
}

func TestObserverSeesTheInactivityTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, o := newObserved(t, manager.Config{InactivityTimeout: 40 * time.Millisecond})
		id := newStream(t, m)
		done, err := m.Done(ctx, id)
		require.NoError(t, err)
		<-done
		synctest.Wait()
		require.Equal(t, []string{
			"opened " + id + " active kind=",
			"closed " + id + ` error kind= reason="Stream terminated due to error: no chunk for 40ms" code=504`,
		}, o.lines())
	})
}

func TestObserverIsNotToldAgainAtShutdownAboutClosedStreams(t *testing.T) {
	m, o := newObserved(t, manager.Config{})
	id := newStream(t, m)
	require.NoError(t, m.CloseStream(ctx, id, manager.ReasonCompleted))
	_, err := m.CreateStream(ctx, id)
	require.ErrorIs(t, err, manager.ErrExists, "a refused creation is not an open")
	require.NoError(t, m.Shutdown(ctx))
	require.Equal(t, []string{"opened " + id + " active kind=", "closed " + id + ` completed kind= reason="completed" code=0`}, o.lines())
}
