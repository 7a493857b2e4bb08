package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/streamgate/streamgate/plugins/internal/pluginpb"
)

// hostSide serves the SDK's plugin and hands the test the raw client connection, so the test
// plays the host and speaks the protocol message by message.
type hostSide struct{ *grpcPlugin }

func (hostSide) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return cc, nil
}

func connect(t *testing.T, info Info, opts ...Option) *grpc.ClientConn {
	t.Helper()
	cfg, err := ServeConfig(info, opts...)
	require.NoError(t, err)
	p := cfg.VersionedPlugins[ProtocolVersion][PluginName].(*grpcPlugin)
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: hostSide{p}})
	t.Cleanup(func() {
		_ = client.Close() // asks the server to stop
		select {
		case <-server.DoneCh:
		case <-time.After(5 * time.Second):
			t.Error("the plugin server did not stop")
		}
	})
	raw, err := client.Dispense(PluginName)
	require.NoError(t, err)
	return raw.(*grpc.ClientConn)
}

// recorder is a Transport keeping what its sessions see.
type recorder struct {
	mu        sync.Mutex
	opened    []OpenRequest
	delivered []uint64
	closed    []CloseInfo
	aborted   int
	failOnce  map[uint64]bool // chunk IDs whose first delivery fails
	configErr error
	refuse    error
}

func (r *recorder) Configure(_ context.Context, config json.RawMessage) error {
	var c struct {
		Dir string `json:"dir"`
	}
	if err := DecodeConfig(config, &c); err != nil {
		return err
	}
	return r.configErr
}

func (r *recorder) Open(_ context.Context, req OpenRequest) (Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != nil {
		return nil, r.refuse
	}
	r.opened = append(r.opened, req)
	return &recSession{r: r}, nil
}

type recSession struct{ r *recorder }

func (s *recSession) Deliver(_ context.Context, chunks []Chunk) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	for _, c := range chunks {
		if s.r.failOnce[c.ID] {
			delete(s.r.failOnce, c.ID)
			return &Error{Code: 503, Status: "UNAVAILABLE", Message: "sink down", Retryable: true}
		}
	}
	for _, c := range chunks {
		s.r.delivered = append(s.r.delivered, c.ID)
	}
	return nil
}

func (s *recSession) Close(_ context.Context, info CloseInfo) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.closed = append(s.r.closed, info)
	return nil
}

func (s *recSession) Abort() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.aborted++
}

func (r *recorder) snapshot() ([]uint64, []CloseInfo, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.delivered...), append([]CloseInfo(nil), r.closed...), r.aborted
}

func batch(ids ...uint64) *pb.HostMessage {
	b := &pb.Batch{}
	for _, id := range ids {
		b.Chunks = append(b.Chunks, &pb.Chunk{Id: id, Data: []byte(`{"n":1}`), TimeUnixNano: 1})
	}
	return &pb.HostMessage{Msg: &pb.HostMessage_Batch{Batch: b}}
}

func openMsg(after uint64) *pb.HostMessage {
	return &pb.HostMessage{Msg: &pb.HostMessage_Open{Open: &pb.Open{StreamId: "s1", StreamInstance: "i1", Tenant: "acme", SubscriptionId: "sub1",
		Metadata: map[string]string{"model": "m"}, Config: []byte(`{"x":1}`), ResumeAfter: after}}}
}

func recv(t *testing.T, s pb.Transport_SessionClient) *pb.PluginMessage {
	t.Helper()
	m, err := s.Recv()
	require.NoError(t, err)
	return m
}

func TestSessionProtocol(t *testing.T) {
	r := &recorder{failOnce: map[uint64]bool{3: true}}
	cc := connect(t, Info{Name: "rec"}, WithTransport(r))
	s, err := pb.NewTransportClient(cc).Session(context.Background())
	require.NoError(t, err)

	require.NoError(t, s.Send(openMsg(0)))
	assert.Empty(t, recv(t, s).GetOpened().GetDiagnostics())
	assert.Equal(t, []OpenRequest{{StreamID: "s1", Instance: "i1", Tenant: "acme", SubscriptionID: "sub1", Metadata: map[string]string{"model": "m"},
		Config: json.RawMessage(`{"x":1}`)}}, r.opened)

	require.NoError(t, s.Send(batch(1, 2)))
	assert.Equal(t, uint64(2), recv(t, s).GetAck().GetChunkId())

	require.NoError(t, s.Send(batch(3, 4)))
	require.NoError(t, s.Send(batch(5))) // in flight when the nack comes: dropped
	nack := recv(t, s).GetNack()
	require.NotNil(t, nack)
	assert.Equal(t, uint64(3), nack.GetFirstId())
	assert.Equal(t, uint64(4), nack.GetLastId())
	assert.Equal(t, &Error{Code: 503, Status: "UNAVAILABLE", Message: "sink down", Retryable: true}, errorFromPB(nack.GetError()))

	require.NoError(t, s.Send(&pb.HostMessage{Msg: &pb.HostMessage_Resume{Resume: &pb.Resume{AfterId: 2}}}))
	require.NoError(t, s.Send(batch(3, 4, 5)))
	assert.Equal(t, uint64(5), recv(t, s).GetAck().GetChunkId())

	require.NoError(t, s.Send(batch(4, 5, 6))) // 4 and 5 were acknowledged already
	assert.Equal(t, uint64(6), recv(t, s).GetAck().GetChunkId())

	require.NoError(t, s.Send(&pb.HostMessage{Msg: &pb.HostMessage_Close{Close: &pb.Close{Reason: "failed",
		Error: &pb.Error{Code: 500, Status: "INTERNAL", Message: "boom"}}}}))
	assert.NotNil(t, recv(t, s).GetClosed())
	_, err = s.Recv()
	assert.ErrorIs(t, err, io.EOF)

	delivered, closed, aborted := r.snapshot()
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6}, delivered)
	assert.Equal(t, []CloseInfo{{Reason: "failed", Err: &Error{Code: 500, Status: "INTERNAL", Message: "boom"}}}, closed)
	assert.Zero(t, aborted)
}

func TestSessionResumesAfterAcknowledgedChunks(t *testing.T) {
	r := &recorder{}
	cc := connect(t, Info{Name: "rec"}, WithTransport(r))
	s, err := pb.NewTransportClient(cc).Session(context.Background())
	require.NoError(t, err)
	require.NoError(t, s.Send(openMsg(7)))
	recv(t, s)
	require.NoError(t, s.Send(batch(6, 7, 8)))
	assert.Equal(t, uint64(8), recv(t, s).GetAck().GetChunkId())
	delivered, _, _ := r.snapshot()
	assert.Equal(t, []uint64{8}, delivered)
	require.NoError(t, s.CloseSend())
	_, err = s.Recv()
	assert.ErrorIs(t, err, io.EOF)
}

func TestSessionAbortedWhenHostGoesAway(t *testing.T) {
	r := &recorder{}
	cc := connect(t, Info{Name: "rec"}, WithTransport(r))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := pb.NewTransportClient(cc).Session(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Send(openMsg(0)))
	recv(t, s)
	cancel()
	require.Eventually(t, func() bool {
		_, closed, aborted := r.snapshot()
		return aborted == 1 && len(closed) == 0
	}, 5*time.Second, 5*time.Millisecond)
}

func TestOpenRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse error
		want   []*pb.Diagnostic
	}{
		{"diagnostics", Invalid("/url", "url is required"),
			[]*pb.Diagnostic{{Severity: pb.Diagnostic_SEVERITY_ERROR, Summary: "url is required", AttributePath: "/url"}}},
		{"plain error", errors.New("disk full"),
			[]*pb.Diagnostic{{Severity: pb.Diagnostic_SEVERITY_ERROR, Summary: "disk full"}}},
		{"warnings only", Diagnostics{{Severity: SeverityWarning, Summary: "odd"}},
			[]*pb.Diagnostic{{Severity: pb.Diagnostic_SEVERITY_WARNING, Summary: "odd"},
				{Severity: pb.Diagnostic_SEVERITY_ERROR, Summary: "session refused", Detail: "warning: odd"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := connect(t, Info{Name: "rec"}, WithTransport(&recorder{refuse: tc.refuse}))
			s, err := pb.NewTransportClient(cc).Session(context.Background())
			require.NoError(t, err)
			require.NoError(t, s.Send(openMsg(0)))
			got := recv(t, s).GetOpened().GetDiagnostics()
			require.Len(t, got, len(tc.want))
			for i := range got {
				assert.Equal(t, tc.want[i].String(), got[i].String())
			}
			_, err = s.Recv()
			assert.ErrorIs(t, err, io.EOF)
		})
	}
}

func TestSessionMustStartWithOpen(t *testing.T) {
	cc := connect(t, Info{Name: "rec"}, WithTransport(&recorder{}))
	s, err := pb.NewTransportClient(cc).Session(context.Background())
	require.NoError(t, err)
	require.NoError(t, s.Send(batch(1)))
	_, err = s.Recv()
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
}

func TestGetInfoAndConfigure(t *testing.T) {
	r := &recorder{}
	h := ErrorHandlerFunc(func(context.Context, ErrorInfo) (Decision, error) { return Decision{}, nil })
	cc := connect(t, Info{Name: "both", Version: "1.2.3", Description: "d", ConfigSchema: "{}"}, WithTransport(r), WithErrorHandler(h))
	client := pb.NewPluginClient(cc)
	info, err := client.GetInfo(context.Background(), &pb.GetInfoRequest{})
	require.NoError(t, err)
	assert.Equal(t, "both", info.GetName())
	assert.Equal(t, "1.2.3", info.GetVersion())
	assert.Equal(t, "d", info.GetDescription())
	assert.Equal(t, "{}", info.GetConfigSchema())
	assert.Equal(t, []pb.Kind{pb.Kind_KIND_TRANSPORT, pb.Kind_KIND_ERROR_HANDLER}, info.GetKinds())

	resp, err := client.Configure(context.Background(), &pb.ConfigureRequest{Config: []byte(`{"dir":"/tmp"}`)})
	require.NoError(t, err)
	assert.Empty(t, resp.GetDiagnostics())

	resp, err = client.Configure(context.Background(), &pb.ConfigureRequest{Config: []byte(`{"dir":3}`)})
	require.NoError(t, err)
	require.Len(t, resp.GetDiagnostics(), 1)
	assert.Equal(t, "/dir", resp.GetDiagnostics()[0].GetAttributePath())
	assert.Equal(t, "expected string, got JSON number", resp.GetDiagnostics()[0].GetSummary())
}

func TestWithConfigureReplacesConfigurers(t *testing.T) {
	var got json.RawMessage
	cc := connect(t, Info{Name: "c"}, WithTransport(&recorder{configErr: errors.New("must not be called")}),
		WithConfigure(func(_ context.Context, c json.RawMessage) error { got = c; return nil }))
	resp, err := pb.NewPluginClient(cc).Configure(context.Background(), &pb.ConfigureRequest{})
	require.NoError(t, err)
	assert.Empty(t, resp.GetDiagnostics())
	assert.Nil(t, got, "an empty configuration arrives as nil")
}

func TestErrorHandlerRoundTrip(t *testing.T) {
	var seen ErrorInfo
	h := ErrorHandlerFunc(func(_ context.Context, info ErrorInfo) (Decision, error) {
		seen = info
		if info.Err.Code == 500 {
			return Decision{}, errors.New("cannot decide")
		}
		return Decision{Action: ActionTerminate, RetryAfter: time.Second, Err: &Error{Code: 400, Status: "INVALID_ARGUMENT", Message: "hidden"}}, nil
	})
	cc := connect(t, Info{Name: "h"}, WithErrorHandler(h))
	client := pb.NewErrorHandlerClient(cc)
	resp, err := client.Handle(context.Background(), &pb.HandleRequest{Phase: pb.Phase_PHASE_DELIVERY, StreamId: "s", SubscriptionId: "sub",
		Attempt: 2, ElapsedNs: int64(time.Second), Error: &pb.Error{Code: 400, Status: "INVALID_ARGUMENT", Message: "m", Retryable: true, HttpStatus: 400}})
	require.NoError(t, err)
	assert.Equal(t, ErrorInfo{Phase: PhaseDelivery, StreamID: "s", Subscription: "sub", Attempt: 2, Elapsed: time.Second,
		Err: Error{Code: 400, Status: "INVALID_ARGUMENT", Message: "m", Retryable: true, HTTPStatus: 400}}, seen)
	assert.Equal(t, pb.Action_ACTION_TERMINATE, resp.GetAction())
	assert.Equal(t, int64(time.Second), resp.GetRetryAfterNs())
	assert.Equal(t, "hidden", resp.GetError().GetMessage())

	_, err = client.Handle(context.Background(), &pb.HandleRequest{Error: &pb.Error{Code: 500}})
	assert.Equal(t, codes.Unknown, status.Code(err))
	assert.Contains(t, err.Error(), "cannot decide")

	s, err := pb.NewTransportClient(cc).Session(context.Background())
	if err == nil {
		// Streams report Unimplemented on the first Recv.
		_, err = s.Recv()
	}
	assert.Equal(t, codes.Unimplemented, status.Code(err), "a handler-only plugin serves no transport")
}

func TestServeConfigValidates(t *testing.T) {
	_, err := ServeConfig(Info{}, WithTransport(&recorder{}))
	assert.EqualError(t, err, "sdk.Info.Name is required")
	_, err = ServeConfig(Info{Name: "x"})
	assert.EqualError(t, err, "serve needs WithTransport or WithErrorHandler")
}

func TestWatchParent(t *testing.T) {
	gone := make(chan struct{})
	watchParent(1<<30, time.Millisecond, func() { close(gone) })
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("a changed parent was not noticed")
	}
}
