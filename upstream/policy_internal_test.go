package upstream

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/sse"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"-1", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999", math.MaxInt64},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sunday, 01-Mar-26 12:01:00 GMT", time.Minute},
		{"Sun Mar  1 12:00:05 2026", 5 * time.Second},
		{"Sun, 01 Mar 2026 11:59:00 GMT", 0},
	} {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, parseRetryAfter(tc.in, now))
		})
	}
}

func TestTailLeftover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		want  string
		known bool
	}{
		{"nothing", "", "", true},
		{"only events", "data: a\r\n\r\ndata: b\r\n\r\n", "", true},
		{"pretty error", "data: a\r\n\r\n{\n  \"error\": {\n    \"code\": 500\n  }\n}\n", "{\n  \"error\": {\n    \"code\": 500\n  }\n}", true},
		{"no newline at the end", "data: a\n\n{\"error\":{}}", `{"error":{}}`, true},
		{"CR framing", "data: a\r\rtrailing", "trailing", true},
		{"whole body without events", "{\"error\":{}}\n", `{"error":{}}`, true},
		{"unfinished event", "data: a\n\ndata: b\n", "data: b", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tl tail
			for i := range len(tc.body) { // byte by byte: the result must not depend on how writes split the body
				tl.write([]byte{tc.body[i]})
			}
			rest, ok := tl.leftover()
			require.Equal(t, tc.known, ok)
			require.Equal(t, tc.want, string(rest))
		})
	}
}

func TestTailWrapsAround(t *testing.T) {
	var tl tail
	event := []byte("data: " + string(make([]byte, 100)) + "\n\n")
	for range tailSize/len(event) + 3 {
		tl.write(event)
	}
	tl.write([]byte(`{"error":{"code":503}}`))
	rest, ok := tl.leftover()
	require.True(t, ok)
	require.Equal(t, `{"error":{"code":503}}`, string(rest))

	tl = tail{}
	tl.write(make([]byte, 3*tailSize)) // one huge line, no blank line kept
	_, ok = tl.leftover()
	require.False(t, ok)
}

// TestTailKeepLastChangesNothing feeds random bodies to a tail the way the runner does, dropping
// each event the parser returns, and requires the same leftover as a tail that keeps the last
// tailSize bytes of the whole body.
func TestTailKeepLastChangesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		body := randomBody(rng)
		var dropping, whole tail
		src := &chunkedReader{b: body, rng: rng}
		rd := sse.NewReader(readFunc(func(p []byte) (int, error) {
			n, err := src.Read(p)
			dropping.write(p[:n])
			whole.write(p[:n])
			return n, err
		}))
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
			dropping.keepLast(rd.Buffered())
		}
		wantRest, wantOK := whole.leftover()
		gotRest, gotOK := dropping.leftover()
		require.Equal(t, wantOK, gotOK, "body %d: %q", i, body)
		require.Equal(t, string(wantRest), string(gotRest), "body %d: %q", i, body)
	}
}

// randomBody returns an event stream of random events, line endings, raw lines and blank lines,
// sometimes longer than tailSize without a blank line.
func randomBody(rng *rand.Rand) []byte {
	endings := []string{"\n", "\r", "\r\n"}
	var b []byte
	for range rng.IntN(12) {
		nl := endings[rng.IntN(len(endings))]
		switch rng.IntN(5) {
		case 0, 1:
			b = append(b, "data: "+strings.Repeat("x", rng.IntN(300))+nl+nl...)
		case 2:
			b = append(b, "data: "+strings.Repeat("y", rng.IntN(2*tailSize))+nl+nl...)
		case 3:
			b = append(b, strings.Repeat("z", rng.IntN(tailSize+10))+nl...)
		case 4:
			b = append(b, nl...)
		}
	}
	if rng.IntN(2) == 0 {
		b = append(b, "{\n  \"error\": {\"code\": 503}\n}\n"...)
	}
	return b
}

// chunkedReader returns b in reads of random sizes.
type chunkedReader struct {
	b   []byte
	rng *rand.Rand
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.b[:min(len(c.b), 1+c.rng.IntN(5000))])
	c.b = c.b[n:]
	return n, nil
}

type readFunc func(p []byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

func TestFinality(t *testing.T) {
	const (
		final    = `{"candidates":[{"finishReason":"STOP"}]}`
		blocked  = `{"promptFeedback":{"blockReason":"OTHER"}}`
		mention  = `{"candidates":[{"content":{"parts":[{"text":"say \"finishReason\""}]}}]}`
		ordinary = `{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}`
	)
	for _, tc := range []struct {
		name   string
		chunks []string
		want   bool
	}{
		{"none", nil, false},
		{"ordinary", []string{ordinary, ordinary}, false},
		{"final last", []string{ordinary, final}, true},
		{"final then more", []string{final, mention, ordinary}, true},
		{"mention last", []string{blocked, mention}, true},
		{"mentions only", []string{mention, mention}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f finality
			for _, c := range tc.chunks {
				f.add([]byte(c))
			}
			require.Equal(t, tc.want, f.reached())
			require.Equal(t, tc.want, f.reached(), "asked again")
		})
	}
}

func TestParseErrorBody(t *testing.T) {
	for _, tc := range []struct {
		body string
		want *manager.StreamError
	}{
		{`{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED"}}`, &manager.StreamError{Code: 429, Message: "m", Status: "RESOURCE_EXHAUSTED"}},
		{"  [{\"error\": {\"code\": 400, \"message\": \"x\"}}]\n", &manager.StreamError{Code: 400, Message: "x", Status: "INVALID_ARGUMENT"}},
		{`{"error":{}}`, &manager.StreamError{Code: 500, Message: "upstream error 500 INTERNAL", Status: "INTERNAL"}},
		{`{"error":"text"}`, nil},
		{`{"candidates":[]}`, nil},
		{`[]`, nil},
		{`<html>`, nil},
		{``, nil},
	} {
		t.Run(tc.body, func(t *testing.T) {
			se, ok := parseErrorBody([]byte(tc.body))
			require.Equal(t, tc.want != nil, ok)
			require.Equal(t, tc.want, se)
		})
	}
}

func TestIsFinalAndLooksLikeError(t *testing.T) {
	require.True(t, isFinal([]byte(`{"candidates":[{"content":{},"finishReason":"STOP"}]}`)))
	require.True(t, isFinal([]byte(`{"candidates":[{"finishReason":"MAX_TOKENS"}],"usageMetadata":{}}`)))
	require.True(t, isFinal([]byte(`{"promptFeedback":{"blockReason":"OTHER"}}`)))
	require.False(t, isFinal([]byte(`{"candidates":[{"content":{"parts":[{"text":"say \"finishReason\""}]}}]}`)))
	require.False(t, isFinal([]byte(`{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}`)))
	require.False(t, isFinal([]byte(`{"finishReason": broken`)))
	require.True(t, isFinal([]byte(`{"R":"Reason\"","candidates":[{"content":{"parts":[{"text":"RRR"}]},"finishReason":"SAFETY"}]}`)))

	for _, tc := range []struct {
		data string
		want bool
	}{
		{`"finishReason"`, true},
		{`"blockReason"`, true},
		{`x"finishReason":1`, true},
		{`finishReason"`, false},
		{`"xfinishReason"`, false},
		{`"finishReaso`, false},
		{`"finishReasonX"`, false},
		{`R`, false},
		{`Reason"`, false},
		{``, false},
	} {
		require.Equal(t, tc.want, hasReasonKey([]byte(tc.data)), tc.data)
	}

	require.True(t, looksLikeError([]byte(`{"error":{}}`)))
	require.True(t, looksLikeError([]byte(" \n{\n  \"error\" : 1}")))
	require.False(t, looksLikeError([]byte(`{"candidates":[{"error":1}]}`)))
	require.False(t, looksLikeError([]byte(`["error"]`)))
	require.False(t, looksLikeError(nil))
}

func TestBuiltinPolicy(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	status := func(code int) *failure {
		return statusFailure(&http.Response{StatusCode: code, Header: http.Header{}}, nil, now)
	}
	for _, tc := range []struct {
		name      string
		f         *failure
		retryable bool
		want      Action
	}{
		{"connect", connectFailure(mustURL("http://h"), context.Canceled), true, ActionRetry},
		{"503", status(503), true, ActionRetry},
		{"400", status(400), true, ActionTerminate},
		{"drop after events", dropFailure(context.Canceled, true), false, ActionTerminate},
		{"first event timeout", firstEventFailure(time.Second), true, ActionTerminate},
		{"too large", tooLargeFailure(10), true, ActionTerminate},
		{"credential", credentialFailure(context.Canceled), true, ActionTerminate},
		{"Gemini 500 before events", upstreamFailure(&manager.StreamError{Code: 500}), true, ActionRetry},
		{"Gemini 400 before events", upstreamFailure(&manager.StreamError{Code: 400}), true, ActionTerminate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, builtinDecision(ErrorInfo{Retryable: tc.retryable}, tc.f).Action)
		})
	}
	for _, code := range []int{408, 429, 500, 502, 503, 504} {
		require.True(t, retryableStatus(code), code)
	}
	for _, code := range []int{400, 401, 403, 404, 409, 413, 422, 501, 505} {
		require.False(t, retryableStatus(code), code)
	}
}

// TestDecideMaxElapsedBoundsRetries walks a retry sequence through decide on a clock of its own:
// each retry's wait moves the sequence's start back by that wait, as if it had passed. The budget is
// minutes and the test takes microseconds, so the outcome does not depend on scheduling.
func TestDecideMaxElapsedBoundsRetries(t *testing.T) {
	r, err := NewRunner(RunnerConfig{Provider: &Simulator{}, Manager: nopStreams{}, Retry: RetryConfig{
		MaxAttempts: 10, InitialInterval: time.Minute, MaxInterval: time.Hour, Multiplier: 2, MaxElapsed: 5 * time.Minute,
	}})
	require.NoError(t, err)
	f := statusFailure(&http.Response{StatusCode: 500, Header: http.Header{}}, nil, time.Now())
	seq := newSequence(r.retry, time.Now())
	var waits []time.Duration
	for {
		v := r.decide(context.Background(), ErrorInfo{Retryable: true, Attempt: seq.attempt}, f, seq, 0)
		if v.action != ActionRetry {
			require.Equal(t, ActionTerminate, v.action)
			require.Same(t, f.err, v.err)
			break
		}
		waits = append(waits, v.wait)
		seq.start = seq.start.Add(-v.wait)
		seq.attempt++
	}
	// Attempts at 0, 1 and 3 minutes; the next would start at 7, past MaxElapsed.
	require.Equal(t, []time.Duration{time.Minute, 2 * time.Minute}, waits)
	require.Equal(t, 3, seq.attempt)
}

type nopStreams struct{}

func (nopStreams) PushChunk(context.Context, string, manager.Chunk) error       { return nil }
func (nopStreams) CloseStream(context.Context, string, string) error            { return nil }
func (nopStreams) HandleStreamError(context.Context, string, error, bool) error { return nil }
func (nopStreams) Done(context.Context, string) (<-chan struct{}, error)        { return nil, nil }

var _ http.RoundTripper = (*pipeTransport)(nil)

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
