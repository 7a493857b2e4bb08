package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// TestFailuresArePairedCanonically checks that every failure the runner makes itself pairs its
// code and status as Google's table does, so that an SDK branching on the pair reads it right.
func TestFailuresArePairedCanonically(t *testing.T) {
	u := &url.URL{Scheme: "https", Host: "upstream.test"}
	redirect := &http.Response{StatusCode: http.StatusFound, Header: http.Header{}}
	for name, f := range map[string]*failure{
		"connect":          connectFailure(u, errors.New("dial tcp: connection refused")),
		"credential":       credentialFailure(errors.New("token fetch failed")),
		"drop":             dropFailure(errors.New("unexpected EOF"), true),
		"truncated":        truncatedFailure("ended early"),
		"media type":       mediaTypeFailure("text/html", eventStreamTypes),
		"not an object":    notObjectFailure(3),
		"idle":             idleFailure(time.Second),
		"first event":      firstEventFailure(time.Second),
		"first byte":       firstByteFailure(time.Second),
		"response too big": responseTooLargeFailure(10),
		"event too big":    tooLargeFailure(10),
		"redirect":         statusFailure(redirect, nil, time.Now()),
		"budget":           refusedFailure(&manager.LimitError{Op: "push", Err: manager.ErrBudgetExhausted}),
	} {
		code, ok := manager.CodeForStatus(f.err.Status)
		require.True(t, ok, "%s: %s is no google.rpc.Code", name, f.err.Status)
		require.Equal(t, code, f.err.Code, "%s: %s", name, f.err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, stop := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer stop()
	for name, ctx := range map[string]context.Context{"cancelled": cancelled, "deadline": expired} {
		se := interrupted(ctx).err
		code, ok := manager.CodeForStatus(se.Status)
		require.True(t, ok, name)
		require.Equal(t, code, se.Code, "%s: %s", name, se)
	}
}
