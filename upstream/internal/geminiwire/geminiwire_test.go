package geminiwire

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		text string
		n    int
		want []string
	}{
		{"a b c d", 2, []string{"a b ", "c d"}},
		{"a b c d", 3, []string{"a ", "b ", "c d"}},
		{"a b", 5, []string{"a ", "b"}},
		{"", 3, []string{""}},
		{"one", 0, []string{"one"}},
	} {
		got := Split(tc.text, tc.n)
		require.Equal(t, tc.want, got, "%q into %d", tc.text, tc.n)
		require.Equal(t, tc.text, strings.Join(got, ""))
	}
}

func TestParseRoute(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Route
		ok   bool
	}{
		{"/v1beta/models/gemini-2.5-flash:streamGenerateContent", Route{"gemini-2.5-flash", MethodStream, false}, true},
		{"/prefix/v1beta/models/m:generateContent", Route{"m", MethodGenerate, false}, true},
		{"/v1/projects/p/locations/l/publishers/google/models/m:generateContent", Route{"m", MethodGenerate, true}, true},
		{"/v1beta/models/m:countTokens", Route{}, false},
		{"/v1beta/models/:generateContent", Route{}, false},
		{"/v1beta/models/a/b:generateContent", Route{}, false},
		{"/v1/chat/completions", Route{}, false},
	} {
		got, ok := ParseRoute(tc.path)
		require.Equal(t, tc.ok, ok, tc.path)
		require.Equal(t, tc.want, got, tc.path)
	}
}

func TestParseModelPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want ModelPath
		ok   bool
	}{
		{"/v1beta/models", ModelPath{Version: "v1beta"}, true},
		{"/v1/models/gemini-2.5-flash", ModelPath{Version: "v1", Model: "gemini-2.5-flash"}, true},
		{"/prefix/v1alpha/models/m:countTokens", ModelPath{Version: "v1alpha", Model: "m", Method: "countTokens"}, true},
		{"/v1/projects/p/locations/l/publishers/google/models/m:embedContent", ModelPath{Model: "m", Method: "embedContent", Vertex: true}, true},
		{"/v1beta1/publishers/google/models", ModelPath{Vertex: true}, true},
		{"/v1/publishers/google/models/m", ModelPath{Model: "m", Vertex: true}, true},
		{"/v1beta/models/", ModelPath{}, false},
		{"/v1beta/models/m:", ModelPath{}, false},
		{"/v1beta/models/:countTokens", ModelPath{}, false},
		{"/v1beta/models/a/b", ModelPath{}, false},
		{"/v1beta/modelsx", ModelPath{}, false},
		{"/v1/chat/completions", ModelPath{}, false},
	} {
		got, ok := ParseModelPath(tc.path)
		require.Equal(t, tc.ok, ok, tc.path)
		require.Equal(t, tc.want, got, tc.path)
	}
}

func TestChunkAndErrorBody(t *testing.T) {
	require.JSONEq(t, `{"candidates":[{"content":{"parts":[{"text":"a\"b"}],"role":"model"},"index":0}],"modelVersion":"m"}`,
		string(Chunk(`a"b`, false, Usage{}, "m", "")))
	require.JSONEq(t, `{"candidates":[{"content":{"parts":[{"text":"z"}],"role":"model"},"finishReason":"STOP","index":0}],
		"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":3,"totalTokenCount":5},"modelVersion":"m","responseId":"r"}`,
		string(Chunk("z", true, Usage{2, 3}, "m", "r")))
	body := ErrorBody(503, "UNAVAILABLE", "busy")
	require.Contains(t, string(body), "\n    \"code\": 503,\n")
	var env struct{ Error map[string]any }
	require.NoError(t, json.Unmarshal(body, &env))
	require.Equal(t, map[string]any{"code": 503.0, "message": "busy", "status": "UNAVAILABLE"}, env.Error)
	require.Equal(t, 100, len(Lorem(100)))
}

func TestCheckRequest(t *testing.T) {
	_, ok := CheckRequest([]byte(`{"contents":[{"parts":[{"text":"hi"}]}]}`))
	require.True(t, ok)
	msg, ok := CheckRequest([]byte(`{}`))
	require.False(t, ok)
	require.Contains(t, msg, "contents is not specified")
	_, ok = CheckRequest([]byte(`nope`))
	require.False(t, ok)
}
