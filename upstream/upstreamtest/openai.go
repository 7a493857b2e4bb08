package upstreamtest

import (
	"net/http"
	"strings"
)

// Answers of the fake's OpenAI-compatible endpoints when no script is queued, in OpenAI's wire
// format as Gemini's compatibility endpoint writes it.
const (
	OpenAIChatCompletion = `{"choices":[{"finish_reason":"stop","index":0,"message":{"content":"Hello from the fake.","role":"assistant"}}],"created":1764630000,"id":"fake-chatcmpl-1","model":"gemini-2.5-flash","object":"chat.completion","usage":{"completion_tokens":4,"prompt_tokens":3,"total_tokens":7}}`
	OpenAIModelList      = `{"object":"list","data":[{"id":"models/gemini-2.5-flash","object":"model","owned_by":"google"},{"id":"models/gemini-embedding-001","object":"model","owned_by":"google"}]}`
	OpenAIEmbeddingList  = `{"object":"list","data":[{"embedding":[0.6,0.8],"index":0,"object":"embedding"}],"model":"gemini-embedding-001","usage":{"prompt_tokens":2,"total_tokens":2}}`
)

// serveOpenAI answers a request of an OpenAI-compatible endpoint no script is queued for: a chat
// completion, the models list or an embedding list; any other path is OpenAI's 404.
func serveOpenAI(w http.ResponseWriter, path string) {
	w.Header().Set("Content-Type", "application/json")
	_, endpoint, _ := strings.Cut(path, "/openai/")
	body := map[string]string{
		"chat/completions": OpenAIChatCompletion,
		"models":           OpenAIModelList,
		"embeddings":       OpenAIEmbeddingList,
	}[endpoint]
	if body == "" {
		w.WriteHeader(http.StatusNotFound)
		body = `{"error":{"message":"Unknown request URL.","type":"invalid_request_error","param":null,"code":"unknown_url"}}`
	}
	_, _ = w.Write([]byte(body))
}
