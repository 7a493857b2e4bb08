package manager_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

var ctx = context.Background()

func TestCreateStreamGeneratesUUIDv4(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	u, err := uuid.Parse(id)
	require.NoError(t, err)
	require.Equal(t, uuid.Version(4), u.Version())
	require.Equal(t, u.String(), id)
}

func TestCreateStreamRequestedID(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id, err := m.CreateStream(ctx, "chat-42")
	require.NoError(t, err)
	require.Equal(t, "chat-42", id)

	_, err = m.CreateStream(ctx, "chat-42")
	require.ErrorIs(t, err, manager.ErrExists)

	require.NoError(t, m.CloseStream(ctx, "chat-42", "done"))
	_, err = m.CreateStream(ctx, "chat-42")
	require.ErrorIs(t, err, manager.ErrExists, "a retained closed stream still owns its ID")
}

func TestCreateStreamRejectsInvalidIDs(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	for name, id := range map[string]string{
		"space":     "a b",
		"CR":        "a\rb",
		"LF":        "a\nb",
		"NUL":       "a\x00b",
		"DEL":       "a\x7fb",
		"non-ASCII": "caf\u00e9",
		"too long":  strings.Repeat("x", 129),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := m.CreateStream(ctx, id)
			require.ErrorIs(t, err, manager.ErrInvalidID)
		})
	}
	id, err := m.CreateStream(ctx, strings.Repeat("x", 128))
	require.NoError(t, err)
	require.Len(t, id, 128)
	_, err = m.CreateStream(ctx, "!~")
	require.NoError(t, err)
}

func TestCreateStreamChecksCapacityFirst(t *testing.T) {
	m, _ := newManager(t, manager.Config{MaxConcurrentStreams: 2})
	first := newStream(t, m)
	newStream(t, m)

	_, err := m.CreateStream(ctx, "bad id")
	require.ErrorIs(t, err, manager.ErrTooManyStreams)
	_, err = m.CreateStream(ctx, first)
	require.ErrorIs(t, err, manager.ErrTooManyStreams)

	require.NoError(t, m.CloseStream(ctx, first, "done"))
	_, err = m.CreateStream(ctx, "")
	require.NoError(t, err, "closed streams free their slot")
}

func TestRegisterClientErrors(t *testing.T) {
	m, _ := newManager(t, manager.Config{MaxClientsPerStream: 2})
	id := newStream(t, m)

	require.ErrorIs(t, m.RegisterClient(ctx, "nope", newRecorder("a")), manager.ErrNotFound)
	require.ErrorIs(t, m.RegisterClient(ctx, id, newRecorder("")), manager.ErrInvalidID)
	require.NoError(t, m.RegisterClient(ctx, id, newRecorder("a")))
	require.ErrorIs(t, m.RegisterClient(ctx, id, newRecorder("a")), manager.ErrClientExists)
	require.NoError(t, m.RegisterClient(ctx, id, newRecorder("b")))
	require.ErrorIs(t, m.RegisterClient(ctx, id, newRecorder("c")), manager.ErrTooManyClients)

	require.NoError(t, m.CloseStream(ctx, id, "done"))
	require.ErrorIs(t, m.RegisterClient(ctx, id, newRecorder("d")), manager.ErrClosed)
}

func TestRegisterClientGetsOnlyLiveChunks(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	push(t, m, id, "1", "2")
	r := newRecorder("a")
	require.NoError(t, m.RegisterClient(ctx, id, r))
	push(t, m, id, "3")
	require.Equal(t, []uint64{3}, r.ids())
}

func TestRegisterClientFromReplaysThenLive(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistorySize: 4})
	id := newStream(t, m)
	push(t, m, id, "1", "2", "3", "4", "5", "6")

	tests := []struct {
		name    string
		after   uint64
		want    []uint64
		wantErr error
	}{
		{"from the oldest kept", 2, seq(3, 7), nil},
		{"from the middle", 4, seq(5, 7), nil},
		{"up to date", 6, seq(7, 7), nil},
		{"trimmed", 1, nil, manager.ErrHistoryTrimmed},
		{"trimmed from zero", 0, nil, manager.ErrHistoryTrimmed},
		{"beyond the last chunk", 7, nil, manager.ErrInvalidAfterID},
	}
	var live []*recorder
	for _, tt := range tests {
		r := newRecorder(tt.name)
		err := m.RegisterClientFrom(ctx, id, r, tt.after)
		if tt.wantErr != nil {
			require.ErrorIs(t, err, tt.wantErr, tt.name)
			require.Empty(t, r.ids(), tt.name)
			continue
		}
		require.NoError(t, err, tt.name)
		live = append(live, r)
	}
	push(t, m, id, "7")
	i := 0
	for _, tt := range tests {
		if tt.wantErr == nil {
			require.Equal(t, tt.want, live[i].ids(), tt.name)
			i++
		}
	}
}

func TestRegisterClientFromReplaysExactChunks(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Event: "delta", Data: []byte(`{"a":1}`)}))
	r := newRecorder("a")
	require.NoError(t, m.RegisterClientFrom(ctx, id, r, 0))
	require.Len(t, r.chunks, 1)
	require.Equal(t, uint64(1), r.chunks[0].ID)
	require.Equal(t, "delta", r.chunks[0].Event)
	require.Equal(t, `{"a":1}`, string(r.chunks[0].Data))
	require.False(t, r.chunks[0].Time.IsZero())
}

func TestRegisterClientFromClosedStreamReplaysThenNotifies(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	push(t, m, id, "1", "2")
	require.NoError(t, m.CloseStream(ctx, id, "finished"))

	r := newRecorder("late")
	require.NoError(t, m.RegisterClientFrom(ctx, id, r, 1))
	require.Equal(t, []uint64{2}, r.ids())
	reason, n := r.closedWith()
	require.Equal(t, "finished", reason)
	require.Equal(t, 1, n)
	count, err := m.ClientCount(ctx, id)
	require.NoError(t, err)
	require.Zero(t, count)
}

func TestDeregisterClient(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	r := newRecorder("a")
	require.NoError(t, m.RegisterClient(ctx, id, r))

	require.ErrorIs(t, m.DeregisterClient(ctx, "nope", "a"), manager.ErrNotFound)
	require.ErrorIs(t, m.DeregisterClient(ctx, id, "b"), manager.ErrNotFound)
	require.NoError(t, m.DeregisterClient(ctx, id, "a"))
	require.ErrorIs(t, m.DeregisterClient(ctx, id, "a"), manager.ErrNotFound)
	push(t, m, id, "1")
	require.Empty(t, r.ids())
	_, closes := r.closedWith()
	require.Zero(t, closes, "deregistering does not notify")

	require.NoError(t, m.CloseStream(ctx, id, "done"))
	require.ErrorIs(t, m.DeregisterClient(ctx, id, "a"), manager.ErrClosed)
}

func TestPushChunkAssignsIDsInOrder(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	a, b := newRecorder("a"), newRecorder("b")
	require.NoError(t, m.RegisterClient(ctx, id, a))
	require.NoError(t, m.RegisterClient(ctx, id, b))
	stamp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{ID: 99, Data: []byte("x"), Time: stamp}))
	push(t, m, id, "y", "z")

	require.Equal(t, []uint64{1, 2, 3}, a.ids(), "the manager overrides a caller's ID")
	require.Equal(t, []uint64{1, 2, 3}, b.ids())
	require.Equal(t, stamp, a.chunks[0].Time, "a caller's time is kept")
	require.False(t, a.chunks[1].Time.IsZero())
	require.Equal(t, "z", string(b.chunks[2].Data))
}

func TestPushChunkErrors(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	require.ErrorIs(t, m.PushChunk(ctx, "nope", manager.Chunk{}), manager.ErrNotFound)
	id := newStream(t, m)
	require.NoError(t, m.CloseStream(ctx, id, "done"))
	require.ErrorIs(t, m.PushChunk(ctx, id, manager.Chunk{}), manager.ErrClosed)
}

func TestPushReturnsTheChunkID(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	push(t, m, id, "a")
	got, err := m.Push(ctx, id, manager.Chunk{Data: []byte("b")})
	require.NoError(t, err)
	require.Equal(t, uint64(2), got)
	require.NoError(t, m.CloseStream(ctx, id, "done"))
	got, err = m.Push(ctx, id, manager.Chunk{Data: []byte("c")})
	require.ErrorIs(t, err, manager.ErrClosed)
	require.Zero(t, got)
}

func TestPushChunkSkipsAndRemovesInactiveClients(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	a, b := newRecorder("a"), newRecorder("b")
	require.NoError(t, m.RegisterClient(ctx, id, a))
	require.NoError(t, m.RegisterClient(ctx, id, b))
	a.inactive.Store(true)
	push(t, m, id, "1")
	require.Empty(t, a.ids())
	require.Equal(t, []uint64{1}, b.ids())
	n, err := m.ClientCount(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestOnClientSendError(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		mode        manager.SendErrorMode
		wantErr     bool
		wantClients int
		wantClosed  string
		wantLog     string
	}{
		{manager.LogAndContinue, false, 2, "", "send to client failed"},
		{manager.DeregisterClient, false, 1, "send failed: boom", "client deregistered"},
		{manager.Throw, true, 2, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			m, logs := newManager(t, manager.Config{OnClientSendError: tt.mode})
			id := newStream(t, m)
			bad, good := newRecorder("bad"), newRecorder("good")
			bad.sendErr = boom
			require.NoError(t, m.RegisterClient(ctx, id, bad))
			require.NoError(t, m.RegisterClient(ctx, id, good))

			err := m.PushChunk(ctx, id, manager.Chunk{Data: []byte("x")})
			require.Equal(t, []uint64{1}, good.ids(), "the others still get the chunk")
			n, cerr := m.ClientCount(ctx, id)
			require.NoError(t, cerr)
			require.Equal(t, tt.wantClients, n)
			reason, _ := bad.closedWith()
			require.Equal(t, tt.wantClosed, reason)
			if tt.wantLog != "" {
				require.Contains(t, logs.String(), tt.wantLog)
				require.Contains(t, logs.String(), "client_id=bad")
				require.Contains(t, logs.String(), "stream_id="+id)
			}
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			var ce *manager.ClientError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, "bad", ce.ClientID)
			require.ErrorIs(t, err, boom)
		})
	}
}

func TestThrowJoinsEveryFailure(t *testing.T) {
	m, _ := newManager(t, manager.Config{OnClientSendError: manager.Throw})
	id := newStream(t, m)
	errA, errB := errors.New("a failed"), errors.New("b failed")
	a, b := newRecorder("a"), newRecorder("b")
	a.sendErr, b.sendErr = errA, errB
	require.NoError(t, m.RegisterClient(ctx, id, a))
	require.NoError(t, m.RegisterClient(ctx, id, b))
	err := m.PushChunk(ctx, id, manager.Chunk{})
	require.ErrorIs(t, err, errA)
	require.ErrorIs(t, err, errB)
	var joined interface{ Unwrap() []error }
	require.ErrorAs(t, err, &joined)
	require.Len(t, joined.Unwrap(), 2)
}

func TestCloseStream(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	require.ErrorIs(t, m.CloseStream(ctx, "nope", "x"), manager.ErrNotFound)
	id := newStream(t, m)
	r := newRecorder("a")
	require.NoError(t, m.RegisterClient(ctx, id, r))
	push(t, m, id, "1", "2")
	require.NoError(t, m.CloseStream(ctx, id, "all done"))
	require.NoError(t, m.CloseStream(ctx, id, "again"), "closing twice is fine")

	require.Equal(t, []uint64{1, 2}, r.ids())
	reason, n := r.closedWith()
	require.Equal(t, "all done", reason)
	require.Equal(t, 1, n)

	info, err := m.Info(ctx, id)
	require.NoError(t, err)
	require.Equal(t, manager.StatusCompleted, info.Status)
	require.Equal(t, "all done", info.CloseReason)
	require.Equal(t, uint64(2), info.LastChunkID)
	require.Zero(t, info.Clients)
	require.False(t, info.ClosedAt.IsZero())
	require.Nil(t, info.Err)

	ids, err := m.ActiveStreamIDs(ctx)
	require.NoError(t, err)
	require.Empty(t, ids)
}

func TestClosedStreamIsForgottenAfterRetention(t *testing.T) {
	m, _ := newManager(t, manager.Config{RetainClosed: 20 * time.Millisecond})
	id := newStream(t, m)
	require.NoError(t, m.CloseStream(ctx, id, "done"))
	_, err := m.Info(ctx, id)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := m.Info(ctx, id)
		return errors.Is(err, manager.ErrNotFound)
	}, 2*time.Second, 5*time.Millisecond)
	_, err = m.CreateStream(ctx, id)
	require.NoError(t, err, "the ID is free again")
}

// A stream ID used again names a new stream: its Instance tells the two apart.
func TestReusedIDGetsANewInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := newManager(t, manager.Config{RetainClosed: time.Minute})
		_, err := m.CreateStream(ctx, "shared")
		require.NoError(t, err)
		first, err := m.Info(ctx, "shared")
		require.NoError(t, err)
		require.NoError(t, m.CloseStream(ctx, "shared", "done"))
		closed, err := m.Info(ctx, "shared")
		require.NoError(t, err)
		require.Equal(t, first.Instance, closed.Instance, "an instance is stable for the stream's life")

		time.Sleep(time.Minute)
		synctest.Wait()
		_, err = m.CreateStream(ctx, "shared")
		require.NoError(t, err)
		second, err := m.Info(ctx, "shared")
		require.NoError(t, err)
		require.NotEmpty(t, first.Instance)
		require.NotEqual(t, first.Instance, second.Instance)
		other := newStream(t, m)
		third, err := m.Info(ctx, other)
		require.NoError(t, err)
		require.NotContains(t, []string{first.Instance, second.Instance}, third.Instance)
	})
}

func TestHandleStreamError(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		terminate bool
		want      manager.StreamError
	}{
		{"stream error keeps its fields", &manager.StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "quota"}, false,
			manager.StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "quota"}},
		{"wrapped stream error", errors.Join(errors.New("ctx"), &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "busy"}), true,
			manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "busy"}},
		{"plain error becomes INTERNAL", errors.New("disk on fire"), true,
			manager.StreamError{Code: 500, Status: "INTERNAL", Message: "disk on fire"}},
		{"missing status is filled", &manager.StreamError{Code: 404, Message: "gone"}, false,
			manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: "gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newManager(t, manager.Config{})
			id := newStream(t, m)
			r := newRecorder("a")
			require.NoError(t, m.RegisterClient(ctx, id, r))
			push(t, m, id, "1")
			require.NoError(t, m.HandleStreamError(ctx, id, tt.err, tt.terminate))

			require.Equal(t, []uint64{1, 2}, r.ids())
			ch := r.chunks[1]
			require.Equal(t, "error", ch.Event)
			require.Equal(t, tt.want, *ch.Err)
			require.JSONEq(t, string(tt.want.JSON()), string(ch.Data))

			info, err := m.Info(ctx, id)
			require.NoError(t, err)
			reason, _ := r.closedWith()
			if !tt.terminate {
				require.Equal(t, manager.StatusActive, info.Status)
				require.Empty(t, reason)
				return
			}
			wantReason := "Stream terminated due to error: " + tt.want.Message
			require.Equal(t, manager.StatusError, info.Status)
			require.Equal(t, wantReason, info.CloseReason)
			require.Equal(t, tt.want, *info.Err)
			require.Equal(t, wantReason, reason)
		})
	}
}

func TestHandleStreamErrorRejects(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	require.ErrorIs(t, m.HandleStreamError(ctx, "nope", errors.New("x"), false), manager.ErrNotFound)
	id := newStream(t, m)
	require.Error(t, m.HandleStreamError(ctx, id, nil, false))
	require.NoError(t, m.CloseStream(ctx, id, "done"))
	require.ErrorIs(t, m.HandleStreamError(ctx, id, errors.New("x"), true), manager.ErrClosed)
}

func TestStreamErrorJSON(t *testing.T) {
	se := &manager.StreamError{Code: 400, Status: "INVALID_ARGUMENT", Message: `bad "input"`}
	require.Equal(t, `{"error":{"code":400,"message":"bad \"input\"","status":"INVALID_ARGUMENT"}}`, string(se.JSON()))
	require.Equal(t, `400 INVALID_ARGUMENT: bad "input"`, se.Error())
}

// The inactivity tests run in a synctest bubble: its clock moves only when every goroutine in it
// is blocked, so the timeouts are exact and a loaded machine cannot change the outcome.

func TestInactivityTimeoutTerminates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, logs := newManager(t, manager.Config{InactivityTimeout: 40 * time.Millisecond})
		id := newStream(t, m)
		r := newRecorder("a")
		require.NoError(t, m.RegisterClient(ctx, id, r))
		done, err := m.Done(ctx, id)
		require.NoError(t, err)
		start := time.Now()
		<-done
		// It ends between the timeout and an eighth of it later (the manager checks on ticks).
		require.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond)
		require.LessOrEqual(t, time.Since(start), 45*time.Millisecond)
		info, err := m.Info(ctx, id)
		require.NoError(t, err)
		require.Equal(t, manager.StatusError, info.Status)
		require.Equal(t, 504, info.Err.Code)
		require.Equal(t, "DEADLINE_EXCEEDED", info.Err.Status)
		require.Equal(t, "Stream terminated due to error: no chunk for 40ms", info.CloseReason)
		require.Equal(t, []uint64{1}, r.ids(), "the client got the error chunk")
		require.Equal(t, 504, r.chunks[0].Err.Code)
		require.Contains(t, logs.String(), "timeout_ms=40\n", "the timeout is logged in milliseconds")
	})
}

func TestInactivityTimeoutIsResetByPushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := newManager(t, manager.Config{InactivityTimeout: 80 * time.Millisecond})
		id := newStream(t, m)
		for range 6 {
			time.Sleep(79 * time.Millisecond)
			push(t, m, id, "tick")
		}
		time.Sleep(79 * time.Millisecond)
		synctest.Wait()
		info, err := m.Info(ctx, id)
		require.NoError(t, err)
		require.Equal(t, manager.StatusActive, info.Status, "pushes 79ms apart keep an 80ms timeout away")
		time.Sleep(12 * time.Millisecond)
		synctest.Wait()
		info, err = m.Info(ctx, id)
		require.NoError(t, err)
		require.Equal(t, manager.StatusError, info.Status, "80ms and a tick after the last push it has ended")
	})
}

func TestNoTimeoutDisablesInactivity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := newManager(t, manager.Config{InactivityTimeout: manager.NoTimeout})
		id := newStream(t, m)
		time.Sleep(200 * 365 * 24 * time.Hour)
		synctest.Wait()
		info, err := m.Info(ctx, id)
		require.NoError(t, err)
		require.Equal(t, manager.StatusActive, info.Status)
	})
}

func TestInfoListAndCounts(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	a, err := m.CreateStreamWith(ctx, manager.StreamOptions{ID: "a", Labels: map[string]string{"tenant": "acme"}})
	require.NoError(t, err)
	b, err := m.CreateStream(ctx, "b")
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, a, newRecorder("x")))
	require.NoError(t, m.RegisterClient(ctx, a, newRecorder("y")))
	require.NoError(t, m.CloseStream(ctx, b, "done"))

	n, err := m.ClientCount(ctx, a)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = m.ClientCount(ctx, "nope")
	require.ErrorIs(t, err, manager.ErrNotFound)
	_, err = m.Info(ctx, "nope")
	require.ErrorIs(t, err, manager.ErrNotFound)

	ids, err := m.ActiveStreamIDs(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, ids)

	list, err := m.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "a", list[0].ID)
	require.Equal(t, manager.StatusActive, list[0].Status)
	require.Equal(t, 2, list[0].Clients)
	require.Equal(t, map[string]string{"tenant": "acme"}, list[0].Labels)
	require.Equal(t, "b", list[1].ID)
	require.Equal(t, manager.StatusCompleted, list[1].Status)
}

func TestStatusForCode(t *testing.T) {
	for code, want := range map[int]string{
		400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
		409: "ALREADY_EXISTS", 410: "FAILED_PRECONDITION", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
		499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "INTERNAL", 503: "UNAVAILABLE",
		504: "DEADLINE_EXCEEDED", 418: "FAILED_PRECONDITION", 200: "UNKNOWN",
	} {
		require.Equal(t, want, manager.StatusForCode(code), "code %d", code)
	}
}

// TestCanonicalCodes pins Google's canonical mapping of every google.rpc.Code name (but OK) to
// its HTTP status, and that StatusForCode names, for each of those statuses, a status that maps
// back to it.
func TestCanonicalCodes(t *testing.T) {
	want := map[string]int{
		"CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504,
		"NOT_FOUND": 404, "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429,
		"FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501,
		"INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500, "UNAUTHENTICATED": 401,
	}
	for status, code := range want {
		got, ok := manager.CodeForStatus(status)
		require.True(t, ok, status)
		require.Equal(t, code, got, status)
		back, ok := manager.CodeForStatus(manager.StatusForCode(code))
		require.True(t, ok, "StatusForCode(%d)", code)
		require.Equal(t, code, back, "StatusForCode(%d) = %s", code, manager.StatusForCode(code))
	}
	for _, s := range []string{"OK", "", "Not Found", "unavailable"} {
		_, ok := manager.CodeForStatus(s)
		require.False(t, ok, "%q", s)
	}
	require.Equal(t, "DEADLINE_EXCEEDED", manager.StatusForCode(408))
}

// TestIsGone feeds IsGone the errors the manager itself returns: a closed, an unknown and a
// shut-down stream are gone; a full manager or a stream's own error are not.
func TestIsGone(t *testing.T) {
	m, _ := newManager(t, manager.Config{MaxConcurrentStreams: 1})
	id := newStream(t, m)
	_, tooMany := m.CreateStream(ctx, "")
	require.ErrorIs(t, tooMany, manager.ErrTooManyStreams)
	require.NoError(t, m.CloseStream(ctx, id, "done"))
	closed := m.PushChunk(ctx, id, manager.Chunk{Data: []byte("late")})
	require.ErrorIs(t, closed, manager.ErrClosed)
	unknown := m.DeregisterClient(ctx, "nope", "a")
	require.ErrorIs(t, unknown, manager.ErrNotFound)
	down, _ := newManager(t, manager.Config{})
	require.NoError(t, down.Shutdown(ctx))
	shutDown := down.CloseStream(ctx, "any", "done")
	require.ErrorIs(t, shutDown, manager.ErrShutdown)

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"closed", closed, true},
		{"subscription end", &manager.ClosedError{StreamID: id, Reason: "done"}, true},
		{"not found", unknown, true},
		{"shut down", shutDown, true},
		{"too many streams", tooMany, false},
		{"stream error", &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "gone"}, false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, manager.IsGone(tc.err))
		})
	}
}

func TestInfoCountsPassiveClients(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	observer, err := manager.NewQueuedClient("observer", &sink{}, manager.QueueConfig{Passive: true})
	require.NoError(t, err)
	caller, err := manager.NewQueuedClient("caller", &sink{}, manager.QueueConfig{})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, observer))
	require.NoError(t, m.RegisterClient(ctx, id, caller))

	info, err := m.Info(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 2, info.Clients)
	require.Equal(t, 1, info.Passive)

	require.NoError(t, m.DeregisterClient(ctx, id, "observer"))
	info, err = m.Info(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, info.Clients)
	require.Zero(t, info.Passive)

	require.NoError(t, m.RegisterClient(ctx, id, observer))
	require.NoError(t, m.CloseStream(ctx, id, "completed"))
	info, err = m.Info(ctx, id)
	require.NoError(t, err)
	require.Zero(t, info.Clients)
	require.Zero(t, info.Passive)
}

// One reaper forgets the retained streams: each at RetainClosed after it closed, not a
// nanosecond before, also when the oldest went early (MaxRetained) and left the reaper due
// before the next, and again after every retained stream was forgotten and a new one closes.
func TestReaperForgetsEachClosedStreamAtItsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := newManager(t, manager.Config{RetainClosed: time.Minute, MaxRetained: 3})
		kept := func(id string) bool {
			_, err := m.Info(ctx, id)
			if err != nil {
				require.ErrorIs(t, err, manager.ErrNotFound)
			}
			return err == nil
		}
		var ids []string
		for range 5 { // closed at 0s, 10s, ... 40s; the fourth and fifth close forget the first two
			id := newStream(t, m)
			require.NoError(t, m.CloseStream(ctx, id, "done"))
			ids = append(ids, id)
			time.Sleep(10 * time.Second)
		}
		synctest.Wait()
		require.Equal(t, []bool{false, false, true, true, true}, []bool{kept(ids[0]), kept(ids[1]), kept(ids[2]), kept(ids[3]), kept(ids[4])})
		wait := 30 * time.Second // it is 50s; the three left are due at 80s, 90s and 100s
		for _, id := range ids[2:] {
			time.Sleep(wait - time.Nanosecond)
			synctest.Wait()
			require.True(t, kept(id), "a nanosecond before its time")
			time.Sleep(time.Nanosecond)
			synctest.Wait()
			require.False(t, kept(id), "at its time")
			wait = 10 * time.Second
		}
		require.Equal(t, manager.Usage{}, usage(t, m))

		id := newStream(t, m)
		require.NoError(t, m.CloseStream(ctx, id, "done"))
		time.Sleep(time.Minute - time.Nanosecond)
		synctest.Wait()
		require.True(t, kept(id))
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		require.False(t, kept(id))
	})
}

// A closed stream replays from its archive what its clients were sent live: the same IDs,
// Events, Errs and Data (not copied), the same Times less the monotonic reading, whatever their
// location; 410 before the oldest kept, 400 past the last, and then the end.
func TestClosedStreamReplaysWhatWasSentLive(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistorySize: 8})
	id := newStream(t, m)
	live := newRecorder("live")
	require.NoError(t, m.RegisterClient(ctx, id, live))
	utc := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for i := range 10 {
		ch := manager.Chunk{Event: []string{"", "delta", "", ""}[i%4], Data: []byte(fmt.Sprint("chunk ", i))}
		switch i % 4 {
		case 2:
			ch.Time = utc
		case 3:
			ch.Data = nil
		}
		require.NoError(t, m.PushChunk(ctx, id, ch))
	}
	se := &manager.StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "quota"}
	require.NoError(t, m.HandleStreamError(ctx, id, se, true))
	require.Len(t, live.chunks, 11)
	for after := uint64(0); after <= 12; after++ {
		t.Run(fmt.Sprint("after ", after), func(t *testing.T) {
			r := newRecorder("late")
			err := m.RegisterClientFrom(ctx, id, r, after)
			switch {
			case after < 3: // chunks 4..11 are kept
				require.ErrorIs(t, err, manager.ErrHistoryTrimmed)
				return
			case after > 11:
				require.ErrorIs(t, err, manager.ErrInvalidAfterID)
				return
			}
			require.NoError(t, err)
			require.Len(t, r.chunks, 11-int(after))
			for i, got := range r.chunks {
				want := live.chunks[int(after)+i]
				require.Same(t, unsafe.SliceData(want.Data), unsafe.SliceData(got.Data), "chunk %d's data", want.ID)
				require.Equal(t, want.Time.Round(0), got.Time, "chunk %d's time", want.ID)
				want.Time, got.Time = time.Time{}, time.Time{}
				require.Equal(t, want, got)
			}
			reason, n := r.closedWith()
			require.Equal(t, manager.ReasonTerminatedPrefix+"quota", reason)
			require.Equal(t, 1, n)
		})
	}
}
