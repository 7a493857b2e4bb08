package openaiwire

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Done is the data of the event that ends a successful OpenAI stream: data: [DONE].
var Done = []byte("[DONE]")

// IsDone reports whether event data is the [DONE] terminator (white space around it allowed).
func IsDone(data []byte) bool { return bytes.Equal(bytes.TrimSpace(data), Done) }

// Usage is the usage object of a completion, or of the last chunk of a stream that asked for
// stream_options.include_usage.
type Usage struct {
	CompletionTokens int `json:"completion_tokens"`
	PromptTokens     int `json:"prompt_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// NewUsage returns the usage of prompt and completion tokens.
func NewUsage(prompt, completion int) Usage {
	return Usage{CompletionTokens: completion, PromptTokens: prompt, TotalTokens: prompt + completion}
}

// Reply names one answer: its ID, model and creation time, the same in every chunk of a stream.
type Reply struct {
	ID      string
	Model   string
	Created int64
}

type delta struct {
	Content string `json:"content,omitempty"`
	Role    string `json:"role,omitempty"`
}

type chunkChoice struct {
	Delta        delta   `json:"delta"`
	FinishReason *string `json:"finish_reason,omitempty"`
	Index        int     `json:"index"`
}

type chunk struct {
	Choices []chunkChoice `json:"choices"`
	Created int64         `json:"created"`
	ID      string        `json:"id"`
	Model   string        `json:"model"`
	Object  string        `json:"object"`
	Usage   *Usage        `json:"usage,omitempty"`
}

// Chunk returns one chat.completion.chunk carrying text as the assistant's delta, with
// finish_reason "stop" when final, as Gemini's compatibility endpoint writes it.
func Chunk(r Reply, text string, final bool) []byte {
	c := chunkChoice{Delta: delta{Content: text, Role: "assistant"}}
	if final {
		c.FinishReason = new("stop")
	}
	return mustMarshal(chunk{Choices: []chunkChoice{c}, Created: r.Created, ID: r.ID, Model: r.Model, Object: "chat.completion.chunk"})
}

// UsageChunk returns the chunk a stream that asked for stream_options.include_usage ends with:
// no choices, and the usage of the whole answer.
func UsageChunk(r Reply, u Usage) []byte {
	return mustMarshal(chunk{Choices: []chunkChoice{}, Created: r.Created, ID: r.ID, Model: r.Model, Object: "chat.completion.chunk", Usage: &u})
}

type message struct {
	Content string `json:"content"`
	Role    string `json:"role"`
}

type choice struct {
	FinishReason string  `json:"finish_reason"`
	Index        int     `json:"index"`
	Message      message `json:"message"`
}

type completion struct {
	Choices []choice `json:"choices"`
	Created int64    `json:"created"`
	ID      string   `json:"id"`
	Model   string   `json:"model"`
	Object  string   `json:"object"`
	Usage   Usage    `json:"usage"`
}

// Completion returns a whole chat.completion answering text.
func Completion(r Reply, text string, u Usage) []byte {
	return mustMarshal(completion{
		Choices: []choice{{FinishReason: "stop", Message: message{Content: text, Role: "assistant"}}},
		Created: r.Created, ID: r.ID, Model: r.Model, Object: "chat.completion", Usage: u,
	})
}

// Error is OpenAI's error object. Param and Code are null when nil.
type Error struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ErrorBody returns OpenAI's error body {"error":{...}}, also the data of an error event.
func ErrorBody(e Error) []byte {
	return mustMarshal(struct {
		Error Error `json:"error"`
	}{e})
}

// Request is what a chat completion request asks for, as far as streaming goes.
type Request struct {
	Model        string
	Stream       bool
	IncludeUsage bool
	// Prompt is the text of the messages' string contents and text parts, joined by spaces.
	Prompt string
}

// ParseRequest reads a chat completion request body. It reports false for a body that is not a
// JSON object or whose model, stream or stream_options have the wrong type.
func ParseRequest(body []byte) (Request, bool) {
	var req struct {
		Model         string `json:"model"`
		Stream        *bool  `json:"stream"`
		StreamOptions *struct {
			IncludeUsage *bool `json:"include_usage"`
		} `json:"stream_options"`
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &req) != nil {
		return Request{}, false
	}
	out := Request{Model: req.Model, Stream: req.Stream != nil && *req.Stream}
	if o := req.StreamOptions; o != nil && o.IncludeUsage != nil {
		out.IncludeUsage = *o.IncludeUsage
	}
	var texts []string
	for _, m := range req.Messages {
		texts = append(texts, contentTexts(m.Content)...)
	}
	out.Prompt = strings.Join(texts, " ")
	return out, true
}

// contentTexts returns the text of a message's content: a string, or the text of its parts.
func contentTexts(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return nil
	}
	var out []string
	for _, p := range parts {
		if p.Text != "" {
			out = append(out, p.Text)
		}
	}
	return out
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("openaiwire: " + err.Error())
	}
	return b
}

// Summary is what the last chunks of a stream say about the answer: its ID, the choices' finish
// reasons and, when the stream asked for it, the usage.
type Summary struct {
	ID            string
	FinishReasons []string
	Usage         Usage
	HasUsage      bool
}

// Summarize reads the summary of a stream from the data of its chunks, in order (normally the
// last two: the one with the finish reasons, and the usage chunk include_usage adds). A chunk
// that is not one is skipped.
func Summarize(chunks ...[]byte) Summary {
	var s Summary
	for _, data := range chunks {
		var c struct {
			ID      string `json:"id"`
			Choices []struct {
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *Usage `json:"usage"`
		}
		if data == nil || json.Unmarshal(data, &c) != nil {
			continue
		}
		if c.ID != "" {
			s.ID = c.ID
		}
		for _, ch := range c.Choices {
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				s.FinishReasons = append(s.FinishReasons, *ch.FinishReason)
			}
		}
		if c.Usage != nil {
			s.Usage, s.HasUsage = *c.Usage, true
		}
	}
	return s
}
