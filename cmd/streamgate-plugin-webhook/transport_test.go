package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/plugins/sdk"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// receiver is a webhook endpoint answering with the statuses in plan, then 204.
type receiver struct {
	mu      sync.Mutex
	plan    []int
	bodies  []string
	headers []http.Header
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	r.headers = append(r.headers, req.Header.Clone())
	code := http.StatusNoContent
	if len(r.plan) > 0 {
		code, r.plan = r.plan[0], r.plan[1:]
	}
	r.mu.Unlock()
	w.WriteHeader(code)
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

func serve(t *testing.T, plan ...int) (*receiver, *httptest.Server) {
	t.Helper()
	r := &receiver{plan: plan}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func openSession(t *testing.T, config string, sub string) (sdk.Session, error) {
	t.Helper()
	tr := &transport{}
	require.NoError(t, tr.Configure(context.Background(), json.RawMessage(config)))
	return tr.Open(context.Background(), sdk.OpenRequest{StreamID: "s1", Instance: "i1", SubscriptionID: "sub1",
		Metadata: map[string]string{"model": "m"}, Config: json.RawMessage(sub)})
}

func fastConfig(url string) string {
	return `{"url":"` + url + `","headers":{"Authorization":"Bearer t0ken"},"max_attempts":3,"initial_backoff":"1ms","max_backoff":"2ms","timeout":"2s"}`
}

var at = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestPostsBatchesAndClose(t *testing.T) {
	r, srv := serve(t, 500, 503) // two failures, then success
	s, err := openSession(t, fastConfig(srv.URL), `{"headers":{"X-Sub":"1","Authorization":"Bearer mine"}}`)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.Deliver(ctx, []sdk.Chunk{{ID: 1, Data: []byte(`{"a":1}`), Time: at}, {ID: 2, Event: "e", Data: []byte("text"), Time: at}}))
	require.NoError(t, s.Close(ctx, sdk.CloseInfo{Reason: "completed"}))

	batch := `{"stream_id":"s1","stream_instance":"i1","subscription_id":"sub1","metadata":{"model":"m"},"chunks":[` +
		`{"id":1,"event":"","data":{"a":1},"time":"2025-01-02T03:04:05Z"},{"id":2,"event":"e","data":"text","time":"2025-01-02T03:04:05Z"}]}`
	assert.Equal(t, []string{batch, batch, batch,
		`{"stream_id":"s1","stream_instance":"i1","subscription_id":"sub1","metadata":{"model":"m"},"closed":true,"reason":"completed"}`}, r.got())
	assert.Equal(t, "Bearer t0ken", r.headers[0].Get("Authorization"))
	assert.Equal(t, "1", r.headers[0].Get("X-Sub"))
	assert.Equal(t, "application/json", r.headers[0].Get("Content-Type"))
}

func TestGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		plan     []int
		want     *sdk.Error
		attempts int
	}{
		{"server errors", []int{500, 502, 503}, &sdk.Error{Code: 503, Status: "UNAVAILABLE", Retryable: true}, 3},
		{"client error is final", []int{400}, &sdk.Error{Code: 400, Status: "INVALID_ARGUMENT"}, 1},
		{"throttled is retried", []int{429, 429, 429}, &sdk.Error{Code: 503, Status: "UNAVAILABLE", Retryable: true}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, srv := serve(t, tc.plan...)
			s, err := openSession(t, fastConfig(srv.URL+"/hook?token=secret"), "")
			require.NoError(t, err)
			err = s.Deliver(context.Background(), []sdk.Chunk{{ID: 1, Data: []byte("1")}})
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.want.Code, se.Code)
			assert.Equal(t, tc.want.Status, se.Status)
			assert.Equal(t, tc.want.Retryable, se.Retryable)
			assert.Contains(t, se.Message, fmt.Sprintf("after %d attempt(s)", tc.attempts))
			assert.NotContains(t, se.Message, "secret")
			assert.Len(t, r.got(), tc.attempts)
		})
	}
}

func TestUnreachableURLDoesNotLeakQuery(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	s, err := openSession(t, fastConfig(url+"/hook?token=secret"), "")
	require.NoError(t, err)
	err = s.Deliver(context.Background(), []sdk.Chunk{{ID: 1, Data: []byte("1")}})
	var se *sdk.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 503, se.Code)
	assert.NotContains(t, se.Message, "secret")
	assert.Contains(t, se.Message, "after 3 attempt(s)")
}

func TestConfigAndSubscriptionRules(t *testing.T) {
	ctx := context.Background()
	assert.Equal(t, sdk.Diagnostics{
		{Severity: sdk.SeverityError, Summary: `url must be an absolute http or https URL, not "ftp://x"`, Path: "/url"},
		{Severity: sdk.SeverityError, Summary: "max_attempts must be at least 1, not 0", Path: "/max_attempts"},
		{Severity: sdk.SeverityError, Summary: `want a positive duration such as "5s", not "soon"`, Path: "/timeout"},
	}, (&transport{}).Configure(ctx, json.RawMessage(`{"url":"ftp://x","max_attempts":0,"timeout":"soon"}`)))
	assert.Equal(t, sdk.Invalid("/url", "url is required"), (&transport{}).Configure(ctx, nil))

	_, err := openSession(t, `{"url":"http://a.example"}`, `{"url":"http://b.example"}`)
	assert.Equal(t, sdk.Invalid("/url", "this webhook plugin does not let subscriptions choose the url (allow_subscription_url is false)"), err)
	_, err = openSession(t, `{"url":"http://a.example","allow_subscription_url":true}`, `{"url":"nope"}`)
	assert.Equal(t, sdk.Invalid("/url", `url must be an absolute http or https URL, not "nope"`), err)

	r, srv := serve(t)
	s, err := openSession(t, `{"url":"http://a.invalid","allow_subscription_url":true}`, `{"url":"`+srv.URL+`"}`)
	require.NoError(t, err)
	require.NoError(t, s.Close(ctx, sdk.CloseInfo{Reason: "gone", Err: &sdk.Error{Code: 500, Status: "INTERNAL", Message: "x"}}))
	assert.Equal(t, []string{`{"stream_id":"s1","stream_instance":"i1","subscription_id":"sub1","metadata":{"model":"m"},"closed":true,"reason":"gone","error":{"code":500,"status":"INTERNAL","message":"x"}}`}, r.got())
}
