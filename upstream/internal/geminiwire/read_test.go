package geminiwire

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

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
			var f Finality
			for _, c := range tc.chunks {
				f.Add([]byte(c))
			}
			require.Equal(t, tc.want, f.Reached())
			require.Equal(t, tc.want, f.Reached(), "asked again")
		})
	}
}

func TestParseError(t *testing.T) {
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
			se, ok := ParseError([]byte(tc.body))
			require.Equal(t, tc.want != nil, ok)
			require.Equal(t, tc.want, se)
		})
	}
}

func TestIsFinalAndLooksLikeError(t *testing.T) {
	require.True(t, IsFinal([]byte(`{"candidates":[{"content":{},"finishReason":"STOP"}]}`)))
	require.True(t, IsFinal([]byte(`{"candidates":[{"finishReason":"MAX_TOKENS"}],"usageMetadata":{}}`)))
	require.True(t, IsFinal([]byte(`{"promptFeedback":{"blockReason":"OTHER"}}`)))
	require.False(t, IsFinal([]byte(`{"candidates":[{"content":{"parts":[{"text":"say \"finishReason\""}]}}]}`)))
	require.False(t, IsFinal([]byte(`{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}`)))
	require.False(t, IsFinal([]byte(`{"finishReason": broken`)))
	require.True(t, IsFinal([]byte(`{"R":"Reason\"","candidates":[{"content":{"parts":[{"text":"RRR"}]},"finishReason":"SAFETY"}]}`)))

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

	require.True(t, LooksLikeError([]byte(`{"error":{}}`)))
	require.True(t, LooksLikeError([]byte(" \n{\n  \"error\" : 1}")))
	require.False(t, LooksLikeError([]byte(`{"candidates":[{"error":1}]}`)))
	require.False(t, LooksLikeError([]byte(`["error"]`)))
	require.False(t, LooksLikeError(nil))
}

// TestReadWhatIsWritten reads back what the writers here write: an error body gives its code,
// status and message, a final chunk is final and no other chunk is.
func TestReadWhatIsWritten(t *testing.T) {
	se, ok := ParseError(ErrorBody(429, "RESOURCE_EXHAUSTED", "quota"))
	require.True(t, ok)
	require.Equal(t, &manager.StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "quota"}, se)
	require.True(t, LooksLikeError(ErrorBody(503, "UNAVAILABLE", "busy")))

	require.True(t, IsFinal(Chunk("end", true, Usage{1, 2}, "m", "r")))
	require.False(t, IsFinal(Chunk("not yet", false, Usage{}, "m", "r")))
	require.False(t, LooksLikeError(Chunk("error", false, Usage{}, "m", "r")))
}

func TestLooksLikeObject(t *testing.T) {
	for data, want := range map[string]bool{
		`{"candidates":[]}`:    true,
		" \r\n{\"a\":1}\n ":    true,
		`[{"error":{}}]`:       false,
		`{}`:                   true,
		"":                     false,
		"a":                    false,
		"{":                    false,
		`{"a":1`:               false,
		"<html><body>x</body>": false,
		`[DONE]`:               false,
		`"text"`:               false,
		`{"unbalanced":[}`:     true, // only the ends are looked at
	} {
		require.Equal(t, want, LooksLikeObject([]byte(data)), "%q", data)
	}
}

func TestParseFinal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  string
		want  Final
		final bool
	}{
		{"written", string(Chunk("end", true, Usage{12, 34}, "m", "resp-1")),
			Final{ResponseID: "resp-1", FinishReasons: []string{"STOP"}, InputTokens: 12, OutputTokens: 34, HasUsage: true}, true},
		{"thoughts are output", `{"candidates":[{"finishReason":"MAX_TOKENS"},{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":5,"thoughtsTokenCount":7,"totalTokenCount":15}}`,
			Final{FinishReasons: []string{"MAX_TOKENS", "STOP"}, InputTokens: 3, OutputTokens: 12, HasUsage: true}, true},
		{"blocked", `{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":9},"responseId":"r"}`,
			Final{ResponseID: "r", FinishReasons: []string{"SAFETY"}, InputTokens: 9, HasUsage: true}, true},
		{"not final", string(Chunk("more", false, Usage{}, "m", "r")), Final{ResponseID: "r"}, false},
		{"not JSON", `{"finishReason": broken`, Final{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, final := ParseFinal([]byte(tc.data))
			require.Equal(t, tc.final, final)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestFinalityKeepsTheFirstFinalChunk(t *testing.T) {
	var f Finality
	_, ok := f.Final()
	require.False(t, ok)
	f.Add(Chunk("a", false, Usage{}, "m", "r"))
	f.Add(Chunk("b", true, Usage{2, 3}, "m", "r"))
	f.Add([]byte(`{"candidates":[{"finishReason":"OTHER"}],"usageMetadata":{"promptTokenCount":100}}`))
	got, ok := f.Final()
	require.True(t, ok)
	require.Equal(t, Final{ResponseID: "r", FinishReasons: []string{"STOP"}, InputTokens: 2, OutputTokens: 3, HasUsage: true}, got)
}
