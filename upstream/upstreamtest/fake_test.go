package upstreamtest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func post(t *testing.T, s *upstreamtest.Server, path string, header http.Header) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(`{"contents":[]}`))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

const streamPath = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"

func TestFakeWireFormat(t *testing.T) {
	for _, tc := range []struct {
		framing upstreamtest.Framing
		nl      string
	}{{upstreamtest.CRLF, "\r\n"}, {upstreamtest.LF, "\n"}, {upstreamtest.CR, "\r"}} {
		sc := upstreamtest.Gemini("Hel", "lo")
		sc.Framing = tc.framing
		s := upstreamtest.NewServer(t, sc)
		resp, body, err := post(t, s, streamPath, nil)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		chunks := upstreamtest.Chunks("Hel", "lo")
		want := "data: " + string(chunks[0]) + tc.nl + tc.nl + "data: " + string(chunks[1]) + tc.nl + tc.nl
		require.Equal(t, want, string(body))
		require.Contains(t, string(chunks[1]), `"finishReason":"STOP"`)
		require.Contains(t, string(chunks[1]), `"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1,"totalTokenCount":5}`)
		require.NotContains(t, string(chunks[0]), "finishReason")
	}
}

func TestFakeGenerateAndErrors(t *testing.T) {
	sc := upstreamtest.Gemini("Hel", "lo")
	s := upstreamtest.NewServer(t, sc)
	resp, body, err := post(t, s, "/v1beta/models/m:generateContent", nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, sc.Body, body)
	require.Contains(t, string(body), `"text":"Hello"`)

	s.Enqueue(upstreamtest.Error(429, "Quota exceeded.").With("Retry-After", "7"))
	resp, body, err = post(t, s, streamPath, nil)
	require.NoError(t, err)
	require.Equal(t, 429, resp.StatusCode)
	require.Equal(t, "7", resp.Header.Get("Retry-After"))
	require.Equal(t, "{\n  \"error\": {\n    \"code\": 429,\n    \"message\": \"Quota exceeded.\",\n    \"status\": \"RESOURCE_EXHAUSTED\"\n  }\n}\n", string(body))

	resp, body, err = post(t, s, "/v1beta/models/m:streamGenerateContent", nil)
	require.NoError(t, err)
	require.Equal(t, 400, resp.StatusCode, "%s", body)
}

func TestFakeRecordsAndCounts(t *testing.T) {
	s := upstreamtest.NewServer(t, upstreamtest.Gemini("x"))
	_, _, err := post(t, s, streamPath, http.Header{"X-Goog-Api-Key": {"k1"}})
	require.NoError(t, err)
	_, _, err = post(t, s, "/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-pro:generateContent", nil)
	require.NoError(t, err)
	_, _, err = post(t, s, "/anything?x=1", nil)
	require.NoError(t, err)

	reqs := s.Requests()
	require.Len(t, reqs, 3)
	require.Equal(t, 3, s.RequestCount())
	require.Equal(t, "/v1beta/models/gemini-2.5-flash:streamGenerateContent", reqs[0].Path)
	require.Equal(t, "alt=sse", reqs[0].RawQuery)
	require.Equal(t, "k1", reqs[0].Header.Get("x-goog-api-key"))
	require.Equal(t, `{"contents":[]}`, string(reqs[0].Body))
	require.Equal(t, "gemini-2.5-flash", reqs[0].Model)
	require.Equal(t, "streamGenerateContent", reqs[0].Call)
	require.False(t, reqs[0].Vertex)
	require.Equal(t, "gemini-2.5-pro", reqs[1].Model)
	require.Equal(t, "generateContent", reqs[1].Call)
	require.True(t, reqs[1].Vertex)
	require.Empty(t, reqs[2].Call)
	require.False(t, reqs[1].Time.Before(reqs[0].Time))
	require.Zero(t, s.CancelledCount())
}

func TestFakeCountsCancelledRequests(t *testing.T) {
	s := upstreamtest.NewServer(t, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Headers(), upstreamtest.Stall()}})
	c, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(c, http.MethodPost, s.URL()+streamPath, nil)
	require.NoError(t, err)
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	cancel()
	resp.Body.Close()
	require.Eventually(t, func() bool { return s.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
}

func TestFakeResets(t *testing.T) {
	s := upstreamtest.NewServer(t, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Reset()}})
	_, _, err := post(t, s, streamPath, nil)
	require.Error(t, err, "a reset before the first byte fails the request")

	chunks := upstreamtest.Chunks("a", "b")
	s.SetDefault(upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Reset()}})
	resp, body, err := post(t, s, streamPath, nil)
	require.NotNil(t, resp)
	require.Equal(t, 200, resp.StatusCode)
	require.Error(t, err, "a reset mid-stream fails the body")
	require.Equal(t, "data: "+string(chunks[0])+"\r\n\r\n", string(body))
	require.Zero(t, s.CancelledCount(), "a scripted reset is not a cancellation")
}

func TestFakeResume(t *testing.T) {
	s := upstreamtest.NewServer(t, upstreamtest.Script{Resume: true, Framing: upstreamtest.LF, Steps: []upstreamtest.Step{
		upstreamtest.EventWithID("1", "", []byte("a")),
		upstreamtest.EventWithID("2", "delta", []byte("b")),
		upstreamtest.EventWithID("3", "", []byte("c")),
	}})
	_, body, err := post(t, s, "/events", http.Header{"Last-Event-Id": {"2"}})
	require.NoError(t, err)
	require.Equal(t, "id: 3\ndata: c\n\n", string(body))
	_, body, err = post(t, s, "/events", nil)
	require.NoError(t, err)
	require.Equal(t, "id: 1\ndata: a\n\nid: 2\nevent: delta\ndata: b\n\nid: 3\ndata: c\n\n", string(body))
}

func TestFakeAuth(t *testing.T) {
	s := upstreamtest.NewServer(t, upstreamtest.Gemini("x"))
	s.RequireAPIKey("good")
	resp, _, err := post(t, s, streamPath, nil)
	require.NoError(t, err)
	require.Equal(t, 403, resp.StatusCode)
	resp, body, err := post(t, s, streamPath, http.Header{"X-Goog-Api-Key": {"bad"}})
	require.NoError(t, err)
	require.Equal(t, 400, resp.StatusCode)
	require.Contains(t, string(body), "API key not valid")
	resp, _, err = post(t, s, streamPath, http.Header{"X-Goog-Api-Key": {"good"}})
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)

	s.RequireAPIKey("")
	s.RequireBearer(func(tok string) bool { return tok == "t1" })
	resp, _, err = post(t, s, streamPath, http.Header{"Authorization": {"Bearer t2"}})
	require.NoError(t, err)
	require.Equal(t, 401, resp.StatusCode)
	resp, _, err = post(t, s, streamPath, http.Header{"Authorization": {"Bearer t1"}})
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
}

func TestFakeEchoesCredentials(t *testing.T) {
	s := upstreamtest.NewServer(t, upstreamtest.Gemini("x"))
	s.EchoCredentials(true)
	s.RequireAPIKey("good")
	resp, body, err := post(t, s, streamPath, http.Header{"X-Goog-Api-Key": {"bad-key"}})
	require.NoError(t, err)
	require.Equal(t, 400, resp.StatusCode)
	require.Equal(t, string(geminiwire.ErrorBody(400, "INVALID_ARGUMENT", "API key not valid: bad-key. Please pass a valid API key.")), string(body))

	s.RequireAPIKey("")
	s.RequireBearer(func(tok string) bool { return tok == "t1" })
	resp, body, err = post(t, s, streamPath, http.Header{"Authorization": {"Bearer t2"}})
	require.NoError(t, err)
	require.Equal(t, 401, resp.StatusCode)
	require.Equal(t, string(geminiwire.ErrorBody(401, "UNAUTHENTICATED", "Request had invalid authentication credentials: t2. Expected OAuth 2 access token.")), string(body))
}

func TestFakeDelaysAndClose(t *testing.T) {
	s := upstreamtest.NewServer(t, upstreamtest.Gemini("a", "b").Paced(20*time.Millisecond))
	start := time.Now()
	_, _, err := post(t, s, streamPath, nil)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond)

	s.SetDefault(upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Headers(), upstreamtest.Stall()}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = post(t, s, streamPath, nil)
	}()
	require.Eventually(t, func() bool { return s.RequestCount() == 2 }, 5*time.Second, time.Millisecond)
	s.Close()
	<-done
}

func TestTexts(t *testing.T) {
	texts := upstreamtest.Texts(3, 100)
	require.Len(t, texts, 3)
	for _, tx := range texts {
		require.Len(t, tx, 100)
	}
}

func TestFakeKeepsTheLastMaxRecords(t *testing.T) {
	f := upstreamtest.NewFake(upstreamtest.Gemini("x"))
	total := upstreamtest.MaxRecords + 3
	for i := range total {
		req := httptest.NewRequest(http.MethodPost, "/anything?n="+strconv.Itoa(i), nil)
		f.ServeHTTP(httptest.NewRecorder(), req)
	}
	reqs := f.Requests()
	require.Len(t, reqs, upstreamtest.MaxRecords)
	require.Equal(t, total, f.RequestCount())
	for i, r := range reqs {
		require.Equal(t, "n="+strconv.Itoa(i+3), r.RawQuery)
	}
}

// TestFakeAnswersTheModelsCollection: a models call the queue has no script for is answered as
// the simulator answers it; a queued script still decides, errors included.
func TestFakeAnswersTheModelsCollection(t *testing.T) {
	s := upstreamtest.NewServer(t, upstreamtest.Gemini("x"))
	resp, body, err := post(t, s, "/v1beta/models/m:countTokens", nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.JSONEq(t, `{"totalTokens":0,"promptTokensDetails":[{"modality":"TEXT","tokenCount":0}]}`, string(body))

	get, err := s.Client().Get(s.URL() + "/v1/models/gemini-2.5-pro")
	require.NoError(t, err)
	defer get.Body.Close()
	got, err := io.ReadAll(get.Body)
	require.NoError(t, err)
	require.Equal(t, 200, get.StatusCode)
	require.Contains(t, string(got), `"name":"models/gemini-2.5-pro"`)

	s.Enqueue(upstreamtest.Error(429, "Quota exceeded.").With("Retry-After", "3"))
	resp, body, err = post(t, s, "/v1beta/models/m:countTokens", nil)
	require.NoError(t, err)
	require.Equal(t, 429, resp.StatusCode)
	require.Equal(t, "3", resp.Header.Get("Retry-After"))
	require.Contains(t, string(body), "Quota exceeded.")

	reqs := s.Requests()
	require.Equal(t, "countTokens", reqs[0].Call)
	require.Equal(t, "gemini-2.5-pro", reqs[1].Model)
	require.Empty(t, reqs[1].Call)
}
