package geminiwire

import (
	"bytes"
	"encoding/json"
	"strings"
)

// FinishStop is the finishReason of a response that ended normally.
const FinishStop = "STOP"

// Usage is the token accounting of a final chunk.
type Usage struct {
	PromptTokens     int
	CandidatesTokens int
}

type part struct {
	Text string `json:"text"`
}

type content struct {
	Parts []part `json:"parts"`
	Role  string `json:"role"`
}

type candidate struct {
	Content      content `json:"content"`
	FinishReason string  `json:"finishReason,omitempty"`
	Index        int     `json:"index"`
}

type usageMetadata struct {
	PromptTokenCount     int `json:"promptTokenCount"`
	CandidatesTokenCount int `json:"candidatesTokenCount"`
	TotalTokenCount      int `json:"totalTokenCount"`
}

type response struct {
	Candidates    []candidate    `json:"candidates"`
	UsageMetadata *usageMetadata `json:"usageMetadata,omitempty"`
	ModelVersion  string         `json:"modelVersion,omitempty"`
	ResponseID    string         `json:"responseId,omitempty"`
}

// Chunk returns the JSON of one streamed GenerateContentResponse carrying text. The final chunk
// also carries finishReason "STOP" and usageMetadata, as Gemini's last chunk does.
func Chunk(text string, final bool, usage Usage, modelVersion, responseID string) []byte {
	r := response{
		Candidates:   []candidate{{Content: content{Parts: []part{{Text: text}}, Role: "model"}}},
		ModelVersion: modelVersion,
		ResponseID:   responseID,
	}
	if final {
		r.Candidates[0].FinishReason = FinishStop
		r.UsageMetadata = usage.metadata()
	}
	return mustMarshal(r)
}

// Response returns the JSON of a complete (non-streaming) GenerateContentResponse with text.
func Response(text string, usage Usage, modelVersion, responseID string) []byte {
	return Chunk(text, true, usage, modelVersion, responseID)
}

func (u Usage) metadata() *usageMetadata {
	return &usageMetadata{
		PromptTokenCount:     u.PromptTokens,
		CandidatesTokenCount: u.CandidatesTokens,
		TotalTokenCount:      u.PromptTokens + u.CandidatesTokens,
	}
}

// IsFinal reports whether a streamed chunk ends the response: a candidate with a finishReason, or
// a prompt blocked with a blockReason. A byte search is a cheap filter; only a chunk that passes it
// is parsed, so a text that merely contains the words does not count.
func IsFinal(data []byte) bool {
	if !hasReasonKey(data) {
		return false
	}
	_, final := ParseFinal(data)
	return final
}

// Final is what the final chunk of a stream, or a complete response, says about the response:
// the fields the runner reports in its traces, metrics and logs.
type Final struct {
	ResponseID string
	// FinishReasons are the candidates' finishReason values, in candidate order, and the prompt's
	// blockReason when it was blocked.
	FinishReasons []string
	// InputTokens is usageMetadata.promptTokenCount; OutputTokens is candidatesTokenCount plus
	// thoughtsTokenCount, the tokens generated (thinking is billed as output). HasUsage is false
	// when there was no usageMetadata.
	InputTokens  int
	OutputTokens int
	HasUsage     bool
}

// ParseFinal parses a GenerateContentResponse and reports whether it is final: a candidate with
// a finishReason or a prompt blockReason. It is the one parse of a chunk the runner makes, once
// per stream.
func ParseFinal(data []byte) (Final, bool) {
	var r struct {
		Candidates []struct {
			FinishReason string `json:"finishReason"`
		} `json:"candidates"`
		PromptFeedback *struct {
			BlockReason string `json:"blockReason"`
		} `json:"promptFeedback"`
		UsageMetadata *struct {
			PromptTokenCount     int `json:"promptTokenCount"`
			CandidatesTokenCount int `json:"candidatesTokenCount"`
			ThoughtsTokenCount   int `json:"thoughtsTokenCount"`
		} `json:"usageMetadata"`
		ResponseID string `json:"responseId"`
	}
	if json.Unmarshal(data, &r) != nil {
		return Final{}, false
	}
	f := Final{ResponseID: r.ResponseID}
	for _, c := range r.Candidates {
		if c.FinishReason != "" {
			f.FinishReasons = append(f.FinishReasons, c.FinishReason)
		}
	}
	if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		f.FinishReasons = append(f.FinishReasons, r.PromptFeedback.BlockReason)
	}
	if u := r.UsageMetadata; u != nil {
		f.InputTokens, f.OutputTokens, f.HasUsage = u.PromptTokenCount, u.CandidatesTokenCount+u.ThoughtsTokenCount, true
	}
	return f, len(f.FinishReasons) > 0
}

// hasReasonKey reports whether data contains `"finishReason"` or `"blockReason"`. It looks for the
// capital R with bytes.IndexByte, much faster on every chunk than bytes.Contains with each key.
func hasReasonKey(data []byte) bool {
	const suffix = `Reason"`
	for i := 0; ; i++ {
		j := bytes.IndexByte(data[i:], 'R')
		if j < 0 {
			return false
		}
		i += j
		if !bytes.HasPrefix(data[i:], []byte(suffix)) {
			continue
		}
		if bytes.HasSuffix(data[:i], []byte(`"finish`)) || bytes.HasSuffix(data[:i], []byte(`"block`)) {
			return true
		}
	}
}

// Finality tells whether a stream had a final chunk (IsFinal). Parsing chunks is the costly part
// and only the end of the stream needs the answer, so the last chunk that may be final is parsed
// then (Reached), or when the next such chunk is added: after the caller's push of that chunk
// rather than before it. The zero Finality has seen no chunk.
type Finality struct {
	final   bool
	summary Final  // of the final chunk, once final
	pending []byte // the data of the last chunk that may be final, not parsed yet
}

// Add notes the data of a chunk, which must not change afterwards.
func (f *Finality) Add(data []byte) {
	if !hasReasonKey(data) {
		return
	}
	f.Reached()
	f.pending = data
}

// Reached reports whether a chunk added so far was final.
func (f *Finality) Reached() bool {
	if f.pending != nil && !f.final {
		f.summary, f.final = ParseFinal(f.pending)
	}
	f.pending = nil
	return f.final
}

// Final returns what the first final chunk added so far said, and whether there was one.
func (f *Finality) Final() (Final, bool) {
	final := f.Reached()
	return f.summary, final
}

// CountTokens is the simulator's stand-in for a tokenizer: the number of words in text.
func CountTokens(text string) int {
	return len(strings.Fields(text))
}

// mustMarshal encodes values whose fields are only strings, ints, slices and structs of them.
func mustMarshal(v any) []byte {
	// Marshal cannot fail on such values.
	b, _ := json.Marshal(v)
	return b
}
