package upstream_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// TestCredentialsNeverLeak runs failures of every kind with a recognisable key and checks that
// the key is in no error chunk, no returned error and no log line.
func TestCredentialsNeverLeak(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := l.Addr().String()
	require.NoError(t, l.Close())

	e := newEnv(t, upstreamtest.Gemini("ok"))
	e.fake.RequireAPIKey("the-right-key")
	var texts []string
	check := func(r *upstream.Runner, req upstream.Request) {
		t.Helper()
		o := e.run(r, req)
		for _, ch := range o.chunks {
			texts = append(texts, string(ch.Data))
		}
		texts = append(texts, o.info.CloseReason)
		resp, err := r.Generate(ctx, req)
		if err != nil {
			texts = append(texts, err.Error())
		} else {
			texts = append(texts, string(readAll(t, resp.Body)))
		}
	}

	gemini := e.runner(e.gemini(), upstream.RunnerConfig{})
	check(gemini, geminiReq) // 400 API key not valid
	check(e.runner(e.geminiAt("http://"+closedAddr+"/?key="+testKey), upstream.RunnerConfig{}), geminiReq)
	check(e.runner(e.geminiAt("http://"+closedAddr), upstream.RunnerConfig{}), geminiReq)
	_, err = gemini.Generate(ctx, upstream.Request{Model: "bad/model"})
	texts = append(texts, err.Error())

	e.fake.RequireAPIKey("")
	e.fake.Enqueue(upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Headers(), upstreamtest.Stall()}})
	check(e.runner(e.gemini(), upstream.RunnerConfig{Timeouts: upstream.Timeouts{FirstEvent: 50 * time.Millisecond}}), geminiReq)

	sseURL := "http://" + closedAddr + "/v1/stream?token=" + testKey
	p, err := upstream.NewSSE(upstream.SSEConfig{URL: sseURL, Headers: map[string]string{"Authorization": "Bearer " + testKey}})
	require.NoError(t, err)
	check(e.runner(p, upstream.RunnerConfig{}), upstream.Request{})
	_, err = upstream.NewSSE(upstream.SSEConfig{URL: "http://x/\x7f?key=" + testKey})
	texts = append(texts, err.Error())
	_, err = upstream.NewSSE(upstream.SSEConfig{URL: "http://x/", Headers: map[string]string{"Authorization": "Bearer " + testKey + "\n"}})
	texts = append(texts, err.Error())

	logs := e.logs.String()
	require.Contains(t, logs, "upstream stream failed", "the failures were logged")
	require.Contains(t, strings.Join(texts, "\n"), "API key not valid", "the fake refused the wrong key")
	for _, text := range append(texts, logs) {
		require.NotContains(t, text, testKey)
		require.NotContains(t, text, "the-right-key")
	}
}
