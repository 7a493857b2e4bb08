package upstream_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// geminiChunk is the part of a GenerateContentResponse the tests read.
type geminiChunk struct {
	Candidates []struct {
		Content struct {
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
			Role string `json:"role"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	UsageMetadata *struct {
		TotalTokenCount int `json:"totalTokenCount"`
	} `json:"usageMetadata"`
	ModelVersion string `json:"modelVersion"`
}

func parseChunk(t *testing.T, data []byte) geminiChunk {
	t.Helper()
	var c geminiChunk
	require.NoError(t, json.Unmarshal(data, &c), "%s", data)
	require.Len(t, c.Candidates, 1)
	return c
}

func newSimulator(t *testing.T, cfg upstream.SimulatorConfig) *upstream.Simulator {
	t.Helper()
	s, err := upstream.NewSimulator(cfg)
	require.NoError(t, err)
	return s
}

func TestSimulatorStreamsLikeGemini(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	sim := newSimulator(t, upstream.SimulatorConfig{Chunks: 5, Interval: time.Millisecond})
	o := e.run(e.runner(sim, upstream.RunnerConfig{}), geminiReq)
	require.Equal(t, manager.ReasonCompleted, o.info.CloseReason)
	require.Len(t, o.chunks, 5)
	var text strings.Builder
	for i, ch := range o.chunks {
		c := parseChunk(t, ch.Data)
		require.Equal(t, "model", c.Candidates[0].Content.Role)
		require.Equal(t, "gemini-2.5-flash", c.ModelVersion)
		text.WriteString(c.Candidates[0].Content.Parts[0].Text)
		if i < 4 {
			require.Empty(t, c.Candidates[0].FinishReason)
			require.Nil(t, c.UsageMetadata)
		} else {
			require.Equal(t, "STOP", c.Candidates[0].FinishReason)
			require.Positive(t, c.UsageMetadata.TotalTokenCount)
		}
	}
	require.Equal(t, upstream.DefaultSimulatorText, text.String())
	require.Zero(t, e.fake.RequestCount(), "the simulator never touches the network")
}

func TestSimulatorPace(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	sim := newSimulator(t, upstream.SimulatorConfig{Chunks: 3, Interval: 30 * time.Millisecond, Text: "one two three"})
	o := e.run(e.runner(sim, upstream.RunnerConfig{}), geminiReq)
	require.Len(t, o.chunks, 3)
	for i := 1; i < 3; i++ {
		require.GreaterOrEqual(t, o.chunks[i].Time.Sub(o.chunks[i-1].Time), 30*time.Millisecond)
	}
}

func TestSimulatorRejectsBadRequests(t *testing.T) {
	for _, tc := range []struct{ name, body, message string }{
		{"not JSON", "{", "Invalid JSON payload received. unexpected end of JSON input"},
		{"no contents", `{"generationConfig":{}}`, "* GenerateContentRequest.contents: contents is not specified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, upstreamtest.Script{})
			sim := newSimulator(t, upstream.SimulatorConfig{Interval: time.Millisecond})
			o := e.run(e.runner(sim, upstream.RunnerConfig{}), upstream.Request{Model: "m", Body: []byte(tc.body)})
			requireFailed(t, o, nil, 400, "INVALID_ARGUMENT", tc.message)
		})
	}
}

func TestSimulatorStopsWhenTheStreamCloses(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	sim := newSimulator(t, upstream.SimulatorConfig{Chunks: 1000, Interval: 5 * time.Millisecond, Text: strings.Repeat("word ", 1000)})
	r := e.runner(sim, upstream.RunnerConfig{})
	id := e.stream()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, id, geminiReq) }()
	require.Eventually(t, func() bool {
		info, err := e.m.Info(ctx, id)
		return err == nil && info.LastChunkID >= 3
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, e.m.CloseStream(ctx, id, "enough"))
	require.NoError(t, <-done)
	// goleak in TestMain checks that the simulator's handler goroutine ended.
}

func TestSimulatorGenerate(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	sim := newSimulator(t, upstream.SimulatorConfig{Text: "All at once."})
	resp, err := e.runner(sim, upstream.RunnerConfig{}).Generate(ctx, geminiReq)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	c := parseChunk(t, readAll(t, resp.Body))
	require.Equal(t, "All at once.", c.Candidates[0].Content.Parts[0].Text)
	require.Equal(t, "STOP", c.Candidates[0].FinishReason)
}

func TestSimulatorTransportHonoursCancellation(t *testing.T) {
	sim := newSimulator(t, upstream.SimulatorConfig{Interval: time.Hour})
	req, err := sim.GenerateRequest(ctx, geminiReq)
	require.NoError(t, err)
	c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	resp, err := sim.Transport().RoundTrip(req.WithContext(c))
	require.Nil(t, resp)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestSimulatorAnswersTheModelsCollection: countTokens counts what a generation's
// promptTokenCount says, embeddings are deterministic, and the list and get name the simulated
// models, all through the runner's Call as any upstream.
func TestSimulatorAnswersTheModelsCollection(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	r := e.runner(newSimulator(t, upstream.SimulatorConfig{}), upstream.RunnerConfig{})
	body := []byte(`{"contents":[{"role":"user","parts":[{"text":"How many words are here?"}]}]}`)

	resp, err := r.Call(ctx, upstream.Call{Model: "gemini-2.5-flash", Method: "countTokens", Body: body})
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.JSONEq(t, `{"totalTokens":5,"promptTokensDetails":[{"modality":"TEXT","tokenCount":5}]}`, string(readAll(t, resp.Body)))
	resp, err = r.Generate(ctx, upstream.Request{Model: "gemini-2.5-flash", Body: body})
	require.NoError(t, err)
	var gen struct {
		UsageMetadata struct {
			PromptTokenCount int `json:"promptTokenCount"`
		} `json:"usageMetadata"`
	}
	require.NoError(t, json.Unmarshal(readAll(t, resp.Body), &gen))
	require.Equal(t, 5, gen.UsageMetadata.PromptTokenCount, "countTokens agrees with the generation's usage")

	embed := upstream.Call{Model: "gemini-embedding-001", Method: "embedContent", APIVersion: "v1",
		Body: []byte(`{"content":{"parts":[{"text":"same text"}]},"outputDimensionality":3}`)}
	first, err := r.Call(ctx, embed)
	require.NoError(t, err)
	again, err := r.Call(ctx, embed)
	require.NoError(t, err)
	a := readAll(t, first.Body)
	require.Equal(t, a, readAll(t, again.Body), "the same text embeds the same")
	require.Regexp(t, `^\{"embedding":\{"values":\[[-0-9.e]+,[-0-9.e]+,[-0-9.e]+\]\}\}$`, string(a))

	resp, err = r.Call(ctx, upstream.Call{Model: "gemini-2.5-flash-lite"})
	require.NoError(t, err)
	require.Contains(t, string(readAll(t, resp.Body)), `"name":"models/gemini-2.5-flash-lite"`)
	resp, err = r.Call(ctx, upstream.Call{Model: "nope", APIVersion: "v1alpha"})
	require.NoError(t, err)
	require.Equal(t, 404, resp.StatusCode)
	require.Contains(t, string(readAll(t, resp.Body)), "models/nope is not found for API version v1alpha")
	resp, err = r.Call(ctx, upstream.Call{Query: map[string][]string{"pageSize": {"1"}}})
	require.NoError(t, err)
	var list struct {
		Models        []struct{ Name string } `json:"models"`
		NextPageToken string                  `json:"nextPageToken"`
	}
	require.NoError(t, json.Unmarshal(readAll(t, resp.Body), &list))
	require.Len(t, list.Models, 1)
	require.Equal(t, "models/gemini-2.5-flash", list.Models[0].Name)
	require.NotEmpty(t, list.NextPageToken)
}
