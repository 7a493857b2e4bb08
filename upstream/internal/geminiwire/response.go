package geminiwire

import (
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
