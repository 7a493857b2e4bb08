package upstream

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
	"github.com/streamgate/streamgate/upstream/internal/openaiwire"
	"github.com/streamgate/streamgate/upstream/sse"
)

// Models of the simulator's OpenAI-compatible API that fail on purpose, so that a demo or a test
// can see how an error reaches an OpenAI client without an upstream.
const (
	// SimulatorModelRateLimited answers every chat completion with 429 and OpenAI's
	// rate_limit_error, as an exhausted quota does.
	SimulatorModelRateLimited = "simulator-rate-limited"
	// SimulatorModelFailsMidStream streams half the reply, then an error event (500
	// server_error) and no data: [DONE]; a non-streaming request gets the 500 as its answer.
	SimulatorModelFailsMidStream = "simulator-fails-mid-stream"
)

// simulatorReplyID is the ID of every simulated chat completion.
const simulatorReplyID = "chatcmpl-simulator"

// serveOpenAI answers a request of the simulator's OpenAI-compatible API, below
// /v1beta/openai/ as Gemini's: chat/completions (streamed as Gemini's compatibility endpoint
// streams it, with the usage chunk stream_options.include_usage asks for), embeddings (the
// deterministic vectors of geminiwire.Embedding) and models (the simulated models). Errors are
// OpenAI's.
func (s *Simulator) serveOpenAI(w http.ResponseWriter, r *http.Request, endpoint string, body []byte) {
	switch {
	case endpoint == OpenAIModels && r.Method == http.MethodGet:
		writeSimJSON(w, openAIModelList())
	case endpoint == OpenAIEmbeddings && r.Method == http.MethodPost:
		s.openAIEmbeddings(w, body)
	case endpoint == OpenAIChat && r.Method == http.MethodPost:
		s.openAIChat(w, r, body)
	default:
		writeOpenAIError(w, http.StatusNotFound, openaiwire.Error{Message: "simulator: no method " + r.Method + " " + r.URL.Path,
			Type: "invalid_request_error", Code: new("unknown_url")})
	}
}

func (s *Simulator) openAIChat(w http.ResponseWriter, r *http.Request, body []byte) {
	req, ok := openaiwire.ParseRequest(body)
	if !ok || req.Model == "" {
		writeOpenAIError(w, http.StatusBadRequest, openaiwire.Error{Message: "simulator: the request must be a JSON object naming a model",
			Type: "invalid_request_error", Param: new("model")})
		return
	}
	if req.Model == SimulatorModelRateLimited {
		writeOpenAIError(w, http.StatusTooManyRequests, openaiwire.Error{Message: "simulator: rate limited, as the model " + req.Model + " always is",
			Type: "rate_limit_error", Code: new("rate_limit_exceeded")})
		return
	}
	if req.Model == SimulatorModelFailsMidStream && !req.Stream {
		writeOpenAIError(w, http.StatusInternalServerError, simulatedFailure(req.Model))
		return
	}
	reply := openaiwire.Reply{ID: simulatorReplyID, Model: req.Model, Created: time.Now().Unix()}
	usage := openaiwire.NewUsage(geminiwire.CountTokens(req.Prompt), s.usage.CandidatesTokens)
	if !sleep(r.Context(), s.interval) {
		return
	}
	if !req.Stream {
		writeSimJSON(w, openaiwire.Completion(reply, strings.Join(s.pieces, ""), usage))
		return
	}
	s.openAIStream(w, r, req, reply, usage)
}

// openAIStream streams the reply in OpenAI's dialect: LF-framed data: events, the usage chunk
// when asked for, data: [DONE].
func (s *Simulator) openAIStream(w http.ResponseWriter, r *http.Request, req openaiwire.Request, reply openaiwire.Reply, usage openaiwire.Usage) {
	geminiwire.StartStream(w)
	var frame []byte
	write := func(data []byte) bool {
		// Chunk JSON has no CR, the only thing AppendEvent rejects.
		frame, _ = geminiwire.AppendEvent(frame[:0], data, sse.LF)
		_, err := w.Write(frame)
		geminiwire.Flush(w)
		return err == nil
	}
	failAt := len(s.pieces)
	if req.Model == SimulatorModelFailsMidStream {
		failAt = (len(s.pieces) + 1) / 2
	}
	for i, p := range s.pieces {
		if i == failAt {
			write(openaiwire.ErrorBody(simulatedFailure(req.Model)))
			return
		}
		if i > 0 && !sleep(r.Context(), s.interval) {
			return
		}
		if !write(openaiwire.Chunk(reply, p, i == len(s.pieces)-1)) {
			return
		}
	}
	if req.IncludeUsage && !write(openaiwire.UsageChunk(reply, usage)) {
		return
	}
	write(openaiwire.Done)
}

func simulatedFailure(model string) openaiwire.Error {
	return openaiwire.Error{Message: "simulator: the generation failed, as the model " + model + " always does", Type: "server_error"}
}

// openAIModel is a model of OpenAI's models list.
type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	OwnedBy string `json:"owned_by"`
}

// openAIModelList is the simulated models, and the two that fail on purpose, as an OpenAI list.
func openAIModelList() []byte {
	list := struct {
		Object string        `json:"object"`
		Data   []openAIModel `json:"data"`
	}{Object: "list"}
	for _, m := range geminiwire.Models {
		list.Data = append(list.Data, openAIModel{ID: m.Name, Object: "model", OwnedBy: "google"})
	}
	for _, id := range []string{SimulatorModelRateLimited, SimulatorModelFailsMidStream} {
		list.Data = append(list.Data, openAIModel{ID: id, Object: "model", OwnedBy: "streamgate"})
	}
	b, _ := json.Marshal(list) // strings only
	return b
}

// openAIEmbeddings answers an embeddings request: input a string or an array of strings,
// dimensions optional.
func (s *Simulator) openAIEmbeddings(w http.ResponseWriter, body []byte) {
	var req struct {
		Model      string          `json:"model"`
		Input      json.RawMessage `json:"input"`
		Dimensions *int            `json:"dimensions"`
	}
	bad := func(msg, param string) {
		writeOpenAIError(w, http.StatusBadRequest, openaiwire.Error{Message: "simulator: " + msg, Type: "invalid_request_error", Param: &param})
	}
	if json.Unmarshal(body, &req) != nil {
		bad("the request must be a JSON object", "input")
		return
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(req.Input, &inputs) != nil || len(inputs) == 0 {
		bad("input must be a string or a non-empty array of strings", "input")
		return
	}
	dim := geminiwire.DefaultDimension
	if req.Dimensions != nil {
		if dim = *req.Dimensions; dim < 1 || dim > geminiwire.MaxDimension {
			bad("dimensions must be between 1 and "+strconv.Itoa(geminiwire.MaxDimension), "dimensions")
			return
		}
	}
	type item struct {
		Embedding []float32 `json:"embedding"`
		Index     int       `json:"index"`
		Object    string    `json:"object"`
	}
	out := struct {
		Object string         `json:"object"`
		Data   []item         `json:"data"`
		Model  string         `json:"model"`
		Usage  map[string]int `json:"usage"`
	}{Object: "list", Model: req.Model}
	tokens := 0
	for i, in := range inputs {
		out.Data = append(out.Data, item{Embedding: geminiwire.Embedding(in, dim), Index: i, Object: "embedding"})
		tokens += geminiwire.CountTokens(in)
	}
	out.Usage = map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}
	b, _ := json.Marshal(out) // finite floats, strings and ints only
	writeSimJSON(w, b)
}

func writeSimJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	// A failed write means the client left.
	_, _ = w.Write(b)
}

func writeOpenAIError(w http.ResponseWriter, code int, e openaiwire.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// A failed write means the client left.
	_, _ = w.Write(openaiwire.ErrorBody(e))
}
