package upstreamtest

import (
	"net/http"
	"strings"

	"github.com/streamgate/streamgate/upstream/internal/openaiwire"
)

// Answers of the fake's OpenAI-compatible endpoints when no script is queued, in OpenAI's wire
// format as Gemini's compatibility endpoint writes it.
const (
	OpenAIChatCompletion = `{"choices":[{"finish_reason":"stop","index":0,"message":{"content":"Hello from the fake.","role":"assistant"}}],"created":1764630000,"id":"fake-chatcmpl-1","model":"gemini-2.5-flash","object":"chat.completion","usage":{"completion_tokens":4,"prompt_tokens":3,"total_tokens":7}}`
	OpenAIModelList      = `{"object":"list","data":[{"id":"models/gemini-2.5-flash","object":"model","owned_by":"google"},{"id":"models/gemini-embedding-001","object":"model","owned_by":"google"}]}`
	OpenAIEmbeddingList  = `{"object":"list","data":[{"embedding":[0.6,0.8],"index":0,"object":"embedding"}],"model":"gemini-embedding-001","usage":{"prompt_tokens":2,"total_tokens":2}}`
)

// serveOpenAI answers a request of an OpenAI-compatible endpoint no script is queued for: a chat
// completion (streamed, OpenAIStream of OpenAITexts, when the request asks for "stream": true),
// the models list or an embedding list; any other path is OpenAI's 404. The endpoint is the
// path's end, so that any base path serves: Gemini's /v1beta/openai or an OpenAI server's /v1
// below one with /openai/ in it.
func (f *Fake) serveOpenAI(w http.ResponseWriter, r *http.Request, body []byte) {
	endpoint := ""
	for _, e := range []string{"chat/completions", "models", "embeddings"} {
		if strings.HasSuffix(r.URL.Path, "/"+e) {
			endpoint = e
		}
	}
	if req, ok := openaiwire.ParseRequest(body); ok && req.Stream && endpoint == "chat/completions" {
		f.play(w, r, OpenAIStream(req.IncludeUsage, OpenAITexts...), false)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	answer := map[string]string{
		"chat/completions": OpenAIChatCompletion,
		"models":           OpenAIModelList,
		"embeddings":       OpenAIEmbeddingList,
	}[endpoint]
	if answer == "" {
		w.WriteHeader(http.StatusNotFound)
		answer = `{"error":{"message":"Unknown request URL.","type":"invalid_request_error","param":null,"code":"unknown_url"}}`
	}
	_, _ = w.Write([]byte(answer))
}

// OpenAITexts are the pieces of the fake's streamed chat completion, whose whole is the text of
// OpenAIChatCompletion.
var OpenAITexts = []string{"Hello", " from", " the fake."}

// The ID, model and creation time of the fake's streamed chat completions.
var openAIReply = openaiwire.Reply{ID: "fake-chatcmpl-1", Model: "gemini-2.5-flash", Created: 1764630000}

// OpenAIUsage is the usage chunk's of the fake's streamed chat completions: the usage of
// OpenAIChatCompletion.
var OpenAIUsage = openaiwire.NewUsage(3, 4)

// OpenAIChunks returns the chat.completion.chunk JSON of a streamed reply of texts, one chunk
// each, the last with finish_reason "stop"; with usage, the usage chunk (no choices, OpenAIUsage)
// follows, as stream_options.include_usage asks.
func OpenAIChunks(usage bool, texts ...string) [][]byte {
	out := make([][]byte, 0, len(texts)+1)
	for i, t := range texts {
		out = append(out, openaiwire.Chunk(openAIReply, t, i == len(texts)-1))
	}
	if usage {
		out = append(out, openaiwire.UsageChunk(openAIReply, OpenAIUsage))
	}
	return out
}

// OpenAIStream returns a successful streamed chat completion in OpenAI's dialect: an event per
// chunk of OpenAIChunks, then data: [DONE], framed with LF as OpenAI frames them. Its Events are
// the chunks and the [DONE].
func OpenAIStream(usage bool, texts ...string) Script {
	s := Script{Framing: LF}
	for _, c := range OpenAIChunks(usage, texts...) {
		s.Steps = append(s.Steps, Event(c))
	}
	s.Steps = append(s.Steps, Event(openaiwire.Done))
	return s
}

// OpenAIStreamFailing returns a streamed chat completion that fails after texts: an event per
// chunk (none final), then an error event with OpenAI's error body e as OpenAI and vLLM send it
// mid-stream, and no data: [DONE].
func OpenAIStreamFailing(e OpenAIError, texts ...string) Script {
	s := Script{Framing: LF}
	for _, t := range texts {
		s.Steps = append(s.Steps, Event(openaiwire.Chunk(openAIReply, t, false)))
	}
	s.Steps = append(s.Steps, Event(OpenAIErrorBody(e)))
	return s
}

// OpenAIError is OpenAI's error object; Param and Code are null when nil.
type OpenAIError = openaiwire.Error

// OpenAIErrorBody returns OpenAI's error body {"error":{...}} of e.
func OpenAIErrorBody(e OpenAIError) []byte { return openaiwire.ErrorBody(e) }
