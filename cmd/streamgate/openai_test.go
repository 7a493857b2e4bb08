package main_test

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// upstream.kind openai, configured as a user would: the OpenAI routes reach the configured
// OpenAI-compatible server (the fake on loopback, below an OpenAI base URL) with
// upstream.openai.api_key as the bearer token, never upstream.api_key.
func TestOpenAIKindFromConfig(t *testing.T) {
	const key = "sk-test-openai-key-0123456789"
	fake := upstreamtest.NewServer(t, upstreamtest.Gemini("unused"))
	fake.RequireAPIKey(key)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "gw.yaml", fmt.Sprintf(`
listen: 127.0.0.1:0
upstream:
  kind: openai
  base_url: %s/openai/v1
  api_key: gemini-key-never-sent-0123
  openai: {api_key: "${OPENAI_API_KEY}"}
`, fake.URL()))
	p := start(t, dir, []string{"OPENAI_API_KEY=" + key}, "-config", cfg)

	resp, body := post(t, p.url+"/v1/chat/completions", "", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var want strings.Builder
	for _, c := range upstreamtest.OpenAIChunks(false, upstreamtest.OpenAITexts...) {
		want.WriteString("data: " + string(c) + "\n\n")
	}
	want.WriteString("data: [DONE]\n\n")
	assert.Equal(t, want.String(), string(body))

	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/openai/v1/chat/completions", reqs[0].Path)
	assert.Equal(t, "Bearer "+key, reqs[0].Header.Get("Authorization"))
	assert.NotContains(t, fmt.Sprint(reqs[0].Header), "gemini-key-never-sent")
	assert.Equal(t, 0, p.stop(syscall.SIGTERM))
	assert.NotContains(t, p.stderr.String(), key)
}
