package upstream

import (
	"bytes"
	"io"
	"testing"

	"github.com/streamgate/streamgate/upstream/internal/openaiwire"
	"github.com/streamgate/streamgate/upstream/sse"
)

// readOpenAI reads body as session.read does in DialectOpenAI: it returns the data pushed and
// the failure that ended the body, nil for a completed stream.
func readOpenAI(body []byte) ([][]byte, *failure) {
	d := &openAIBody{}
	rd := sse.NewReader(io.TeeReader(bytes.NewReader(body), d.tee()))
	var pushed [][]byte
	for {
		ev, err := rd.Next()
		if err != nil {
			reported, incomplete := d.end(rd)
			d.final()
			switch {
			case reported != nil:
				return pushed, reported
			case err != io.EOF:
				return pushed, dropFailure(err, len(pushed) > 0)
			}
			return pushed, incomplete
		}
		f := d.check(ev.Data, rd.Buffered())
		if f == skipEvent {
			continue
		}
		if f != nil {
			return pushed, f
		}
		data := bytes.Clone(ev.Data)
		d.pushed(data)
		pushed = append(pushed, data)
	}
}

// FuzzOpenAIBody: whatever an OpenAI-compatible server sends, the dialect never panics, never
// pushes the [DONE] terminator or an error as a chunk, completes only a body that sent [DONE],
// and fails with an error chunk of an HTTP error code and a message.
func FuzzOpenAIBody(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[]}\n\ndata: [DONE]\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		pushed, fail := readOpenAI(body)
		for _, data := range pushed {
			if openaiwire.IsDone(data) {
				t.Fatalf("[DONE] pushed as a chunk")
			}
			if looksLikeOpenAIError(data) {
				if _, ok := ParseOpenAIError(data); ok {
					t.Fatalf("an error pushed as a chunk: %q", data)
				}
			}
		}
		if fail == nil {
			if !bytes.Contains(body, openaiwire.Done) {
				t.Fatalf("completed without [DONE]: %q", body)
			}
			return
		}
		if fail.err == nil || fail.err.Message == "" {
			t.Fatalf("failure without an error chunk: %+v", fail)
		}
		if c := fail.err.Code; c != 0 && (c < 100 || c > 999) && fail.kind != kindUpstream {
			t.Fatalf("code %d", c)
		}
	})
}

// FuzzParseOpenAIError: any error body parses without a panic, and what parses becomes a
// stream error with a code and a message.
func FuzzParseOpenAIError(f *testing.F) {
	f.Add([]byte(`{"error":{"message":"m","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		oe, ok := ParseOpenAIError(body)
		if !ok {
			return
		}
		se := oe.StreamError()
		if se.Code == 0 || se.Status == "" || se.Message == "" {
			t.Fatalf("stream error %+v of %q", se, body)
		}
	})
}

// The dialect's outcomes on the bodies an OpenAI-compatible server sends.
func TestOpenAIBodyOutcomes(t *testing.T) {
	chunk := `{"choices":[{"delta":{"content":"hi"},"index":0}],"id":"c1","object":"chat.completion.chunk"}`
	usage := `{"choices":[],"id":"c1","object":"chat.completion.chunk","usage":{"completion_tokens":2,"prompt_tokens":3,"total_tokens":5}}`
	for _, tc := range []struct {
		name, body string
		pushed     int
		want       string // the failure's code and message; "" completes
	}{
		{"complete", "data: " + chunk + "\n\ndata: " + usage + "\n\ndata: [DONE]\n\n", 2, ""},
		{"CRLF framing", "data: " + chunk + "\r\n\r\ndata: [DONE]\r\n\r\n", 1, ""},
		{"no [DONE]", "data: " + chunk + "\n\n", 1, "503 upstream stream ended without data: [DONE]"},
		{"event after [DONE]", "data: [DONE]\n\ndata: " + chunk + "\n\n", 0, "503 upstream sent an event after data: [DONE], not an OpenAI chat-completions stream"},
		{"not JSON", "data: hello\n\n", 0, "503 upstream sent an event with 5-byte data that is not a JSON object, not an OpenAI chat-completions stream"},
		{"array that is no error", "data: [1]\n\n", 0, "503 upstream sent an event with a JSON array that is not an error, not an OpenAI chat-completions stream"},
		{"OpenAI error event", "data: " + chunk + "\n\ndata: {\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\"}}\n\n", 1, "429 slow down"},
		{"Gemini error in an array", `data: [{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}]` + "\n\n", 0, "503 overloaded"},
		{"raw error tail", "data: " + chunk + "\n\n{\n  \"error\": {\n    \"code\": 500,\n    \"message\": \"internal\",\n    \"status\": \"INTERNAL\"\n  }\n}\n", 1, "500 internal"},
		{"bytes that are no event", "data: " + chunk + "\n\ngarbage", 1, "503 upstream stream ended with 7 bytes that are not a complete event"},
		{"a chunk quoting an error", `data: {"choices":[{"delta":{"content":"{\"error\":1}"}}]}` + "\n\ndata: [DONE]\n\n", 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pushed, fail := readOpenAI([]byte(tc.body))
			if len(pushed) != tc.pushed {
				t.Fatalf("pushed %d chunks, want %d", len(pushed), tc.pushed)
			}
			got := ""
			if fail != nil {
				got = fail.err.Error()
				got = got[:3] + " " + fail.err.Message
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// The summary of a stream comes from its last two chunks: the finish reason and the usage.
func TestOpenAIBodyFinal(t *testing.T) {
	d := &openAIBody{}
	d.pushed([]byte(`{"id":"c1","choices":[{"delta":{"content":"a"}}]}`))
	d.pushed([]byte(`{"id":"c1","choices":[{"delta":{},"finish_reason":"stop"}]}`))
	d.pushed([]byte(`{"id":"c1","choices":[],"usage":{"completion_tokens":2,"prompt_tokens":3,"total_tokens":5}}`))
	fin, ok := d.final()
	if !ok || fin.ResponseID != "c1" || len(fin.FinishReasons) != 1 || fin.FinishReasons[0] != "stop" ||
		!fin.HasUsage || fin.InputTokens != 3 || fin.OutputTokens != 2 {
		t.Fatalf("final %+v %v", fin, ok)
	}
}
