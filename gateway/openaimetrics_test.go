package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/telemetry"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// TestOpenAIStreamMetricsAndLog: a streamed chat completion is counted and logged as a Gemini-route
// generation is: its chunks (source openai), subscriber (route openai), upstream attempt,
// durations and, from its usage chunk, its tokens; the runner's "upstream stream ended" line has its tokens, and the
// access line its route, status and stream. Without include_usage there is no usage chunk, so
// no tokens are counted.
func TestOpenAIStreamMetricsAndLog(t *testing.T) {
	metrics, err := telemetry.NewMetrics(telemetry.MetricsConfig{Models: []string{"gemini-2.5-flash"}})
	require.NoError(t, err)
	e := newEnv(t, options{
		json:    true,
		gateway: func(c *gateway.Config) { c.Metrics = metrics },
		runner:  func(c *upstream.RunnerConfig) { c.Metrics = metrics },
	})
	var ids []string
	for i, body := range []string{usageChatBody, streamChatBody} {
		resp := e.request("POST", "/v1/chat/completions", "", body, append(bearer(aliceKey), gateway.HeaderRequestID, "openai-"+string(rune('a'+i)))...)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		want := openAIFrames(upstreamtest.OpenAIChunks(i == 0, upstreamtest.OpenAITexts...)...) + openAIDone
		require.Equal(t, want, string(readAll(t, resp)))
		ids = append(ids, resp.Header.Get("X-Stream-Id"))
	}
	// The runner counts and logs a generation once its stream is closed: wait for the lines, not
	// with the stream route, whose requests would be counted too.
	ended := func(id string) []map[string]any {
		var out []map[string]any
		for _, l := range e.linesWith("stream_id", id) {
			if l["msg"] == "upstream stream ended" {
				out = append(out, l)
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(ended(ids[0])) == 1 && len(ended(ids[1])) == 1 }, 5*time.Second, time.Millisecond)
	chunks := upstreamtest.OpenAIChunks(true, upstreamtest.OpenAITexts...)
	withUsage, without := len(chunks), len(chunks)-1
	bytes := 0
	for _, c := range chunks {
		bytes += len(c)
	}
	bytes += bytes - len(chunks[len(chunks)-1])

	want := `
# HELP streamgate_chunk_bytes_total Bytes of chunk data pushed into streams.
# TYPE streamgate_chunk_bytes_total counter
streamgate_chunk_bytes_total ` + strconv.Itoa(bytes) + `
# HELP streamgate_chunks_total Chunks pushed into streams.
# TYPE streamgate_chunks_total counter
streamgate_chunks_total{source="openai"} ` + strconv.Itoa(withUsage+without) + `
# HELP streamgate_http_requests_total HTTP requests answered, by route template and status.
# TYPE streamgate_http_requests_total counter
streamgate_http_requests_total{code="200",route="/v1/chat/completions"} 2
# HELP streamgate_subscribers Subscribers attached now, by the route they came through.
# TYPE streamgate_subscribers gauge
streamgate_subscribers{route="openai"} 0
# HELP streamgate_tokens_total Tokens reported by the final usage of generations (Gemini usageMetadata, an OpenAI usage chunk).
# TYPE streamgate_tokens_total counter
streamgate_tokens_total{model="gemini-2.5-flash",provider="gemini",type="input"} 3
streamgate_tokens_total{model="gemini-2.5-flash",provider="gemini",type="output"} 4
# HELP streamgate_upstream_requests_total Upstream attempts, by HTTP status (error: no response).
# TYPE streamgate_upstream_requests_total counter
streamgate_upstream_requests_total{code="200",provider="gemini"} 2
`
	assert.NoError(t, testutil.GatherAndCompare(metrics.Registry(), strings.NewReader(want),
		"streamgate_chunk_bytes_total", "streamgate_chunks_total", "streamgate_http_requests_total", "streamgate_subscribers", "streamgate_tokens_total", "streamgate_upstream_requests_total"))
	for _, name := range []string{"streamgate_upstream_time_to_first_chunk_seconds", "streamgate_upstream_request_duration_seconds", "streamgate_time_per_output_chunk_seconds"} {
		n, err := testutil.GatherAndCount(metrics.Registry(), name)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "%s: one series, provider gemini and model gemini-2.5-flash", name)
	}

	for i, id := range ids {
		l := ended(id)[0]
		assert.Equal(t, "completed", l["status"])
		assert.Equal(t, "gemini-2.5-flash", l["model"])
		n := withUsage
		if i == 1 {
			n = without
		}
		assert.Equal(t, strconv.Itoa(n), num(l["chunks"]))
		if i == 0 {
			assert.Equal(t, "3", num(l["input_tokens"]))
			assert.Equal(t, "4", num(l["output_tokens"]))
		} else {
			assert.NotContains(t, l, "input_tokens", "no usage chunk, no tokens")
			assert.NotContains(t, l, "output_tokens")
		}
		access := e.accessLine("openai-" + string(rune('a'+i)))
		assert.Equal(t, "/v1/chat/completions", access["route"])
		assert.Equal(t, "200", num(access["status"]))
		assert.Equal(t, id, access["stream_id"])
	}
}

// num is a JSON log value as its text: 3 for the float64 3 that encoding/json decodes.
func num(v any) string { return fmt.Sprint(v) }

// TestOpenAIStreamIncludeUsage: stream_options.include_usage passes through, on the fake and on
// the simulator: absent or false, no chunk has a usage; true, exactly one does, the last before
// data: [DONE], with no choices.
func TestOpenAIStreamIncludeUsage(t *testing.T) {
	const chat = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Say hello"}],"stream":true`
	for _, b := range []struct {
		name     string
		provider func(string) (upstream.Provider, error)
		usage    string
	}{
		{"fake", nil, `{"completion_tokens":4,"prompt_tokens":3,"total_tokens":7}`},
		{"simulator", sdkUpstreams[1].provider, `{"completion_tokens":8,"prompt_tokens":2,"total_tokens":10}`},
	} {
		e := newEnv(t, options{provider: b.provider})
		for _, tc := range []struct {
			name, options string
			usage         bool
		}{
			{"absent", "", false},
			{"false", `,"stream_options":{"include_usage":false}`, false},
			{"true", `,"stream_options":{"include_usage":true}`, true},
		} {
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				resp := e.request("POST", "/v1/chat/completions", "", chat+tc.options+"}", bearer(aliceKey)...)
				body := string(readAll(t, resp))
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				frames := requireFrames(t, body)
				require.Equal(t, "[DONE]", frames[len(frames)-1])
				var usages []string
				last := -1
				for i, f := range frames[:len(frames)-1] {
					var c struct {
						Choices []json.RawMessage `json:"choices"`
						Usage   json.RawMessage   `json:"usage"`
					}
					require.NoError(t, json.Unmarshal([]byte(f), &c), f)
					if c.Usage != nil && string(c.Usage) != "null" {
						usages = append(usages, string(c.Usage))
						last = i
						assert.Empty(t, c.Choices, "the usage chunk has no choices")
					}
				}
				if !tc.usage {
					assert.Empty(t, usages, "no usage chunk")
					return
				}
				assert.Equal(t, []string{b.usage}, usages, "exactly one usage chunk")
				assert.Equal(t, len(frames)-2, last, "the last chunk before data: [DONE]")
			})
		}
	}
}
