package geminiwire

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Methods of the models collection besides the generateContent pair.
const (
	MethodCountTokens = "countTokens"
	MethodEmbed       = "embedContent"
	MethodBatchEmbed  = "batchEmbedContents"
)

// Page sizes of the models list, as Gemini's: 50 when none is asked for, at most 1000.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Embedding dimensions: DefaultDimension when a request asks for none (outputDimensionality), at
// most MaxDimension.
const (
	DefaultDimension = 768
	MaxDimension     = 3072
)

// Model is Gemini's Model resource, as models.get and models.list return it.
type Model struct {
	Name                       string   `json:"name"`
	BaseModelID                string   `json:"baseModelId"`
	Version                    string   `json:"version"`
	DisplayName                string   `json:"displayName"`
	Description                string   `json:"description"`
	InputTokenLimit            int      `json:"inputTokenLimit"`
	OutputTokenLimit           int      `json:"outputTokenLimit"`
	SupportedGenerationMethods []string `json:"supportedGenerationMethods"`
}

var (
	generationMethods = []string{MethodGenerate, MethodStream, MethodCountTokens}
	embeddingMethods  = []string{MethodEmbed, MethodBatchEmbed, MethodCountTokens}
)

// Models are the simulated models, in the order the list gives them. Any model name generates;
// these are the ones models.get knows.
var Models = []Model{
	simulated("gemini-2.5-flash", "Gemini 2.5 Flash", 1048576, 65536, generationMethods),
	simulated("gemini-2.5-pro", "Gemini 2.5 Pro", 1048576, 65536, generationMethods),
	simulated("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", 1048576, 65536, generationMethods),
	simulated("gemini-embedding-001", "Gemini Embedding 001", 2048, 1, embeddingMethods),
}

func simulated(id, display string, in, out int, methods []string) Model {
	return Model{
		Name: "models/" + id, BaseModelID: id, Version: "001", DisplayName: display + " (simulated)",
		Description:     "A model streamgate's simulator answers locally, without any upstream.",
		InputTokenLimit: in, OutputTokenLimit: out, SupportedGenerationMethods: methods,
	}
}

// ServeModels answers a unary call of the models collection as the simulator does, with what
// its body (the request's, already read) asks:
//
//   - GET models: Models, DefaultPageSize at a time (pageSize up to MaxPageSize), with an opaque
//     nextPageToken while more follow;
//   - GET models/{model}: the model, or 404 NOT_FOUND for one Models does not have;
//   - POST models/{model}:countTokens: {"totalTokens": PromptTokens(body)};
//   - POST models/{model}:embedContent and :batchEmbedContents: Embedding of each content's text,
//     of outputDimensionality (DefaultDimension when none is asked for).
//
// Any other method, or another HTTP method, answers 404 NOT_FOUND, and a malformed request 400
// INVALID_ARGUMENT, in Gemini's error shape.
func ServeModels(w http.ResponseWriter, r *http.Request, p ModelPath, body []byte) {
	get := r.Method == http.MethodGet
	switch {
	case get && p.Model == "":
		listModels(w, r.URL.Query())
	case get && p.Method == "":
		getModel(w, p)
	case r.Method != http.MethodPost || p.Method == "":
		WriteError(w, http.StatusNotFound, "NOT_FOUND", "simulator: no method "+r.Method+" "+r.URL.Path)
	case p.Method == MethodCountTokens:
		countTokens(w, body)
	case p.Method == MethodEmbed:
		embed(w, body)
	case p.Method == MethodBatchEmbed:
		batchEmbed(w, p.Model, body)
	default:
		WriteError(w, http.StatusNotFound, "NOT_FOUND", "simulator: models/"+p.Model+":"+p.Method+" is not a method the simulator serves")
	}
}

func listModels(w http.ResponseWriter, q url.Values) {
	size := DefaultPageSize
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid value at 'page_size' (TYPE_INT32), "+strconv.Quote(v))
			return
		}
		if n > 0 {
			size = min(n, MaxPageSize)
		}
	}
	from := 0
	if tok := q.Get("pageToken"); tok != "" {
		n, ok := parsePageToken(tok)
		if !ok {
			WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid page token.")
			return
		}
		from = n
	}
	to := min(from+size, len(Models))
	out := struct {
		Models        []Model `json:"models"`
		NextPageToken string  `json:"nextPageToken,omitempty"`
	}{Models: Models[from:to]}
	if to < len(Models) {
		out.NextPageToken = pageToken(to)
	}
	writeJSON(w, out)
}

// pageToken is the opaque token of the page starting at offset.
func pageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

func parsePageToken(tok string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), "offset:")
	n, err := strconv.Atoi(rest)
	return n, ok && err == nil && n > 0 && n < len(Models)
}

func getModel(w http.ResponseWriter, p ModelPath) {
	for _, m := range Models {
		if m.Name == "models/"+p.Model {
			writeJSON(w, m)
			return
		}
	}
	WriteError(w, http.StatusNotFound, "NOT_FOUND", "models/"+p.Model+" is not found for API version "+versionOf(p)+
		", or is not supported for GetModel. Call ListModels to see the list of available models and their supported methods.")
}

func versionOf(p ModelPath) string {
	if p.Version == "" {
		return "v1beta"
	}
	return p.Version
}

func countTokens(w http.ResponseWriter, body []byte) {
	if !json.Valid(body) || !isObject(body) {
		WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received: the body of countTokens must be a JSON object")
		return
	}
	n := PromptTokens(body)
	writeJSON(w, map[string]any{
		"totalTokens":         n,
		"promptTokensDetails": []map[string]any{{"modality": "TEXT", "tokenCount": n}},
	})
}

// embedRequest is an EmbedContentRequest, alone or in a batch.
type embedRequest struct {
	Model                string           `json:"model"`
	Content              *json.RawMessage `json:"content"`
	OutputDimensionality *int             `json:"outputDimensionality"`
}

type embedding struct {
	Values []float32 `json:"values"`
}

func embed(w http.ResponseWriter, body []byte) {
	var req embedRequest
	if err := json.Unmarshal(body, &req); err != nil {
		WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	values, msg := req.embed("EmbedContentRequest")
	if msg != "" {
		WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg)
		return
	}
	writeJSON(w, map[string]embedding{"embedding": {values}})
}

func batchEmbed(w http.ResponseWriter, model string, body []byte) {
	var req struct {
		Requests []embedRequest `json:"requests"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	if len(req.Requests) == 0 {
		WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: requests is not specified")
		return
	}
	out := make([]embedding, len(req.Requests))
	for i, r := range req.Requests {
		field := "BatchEmbedContentsRequest.requests[" + strconv.Itoa(i) + "]"
		if r.Model != "" && r.Model != "models/"+model {
			WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "* "+field+".model: "+strconv.Quote(r.Model)+
				" is not the model of the path, models/"+model)
			return
		}
		values, msg := r.embed(field)
		if msg != "" {
			WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg)
			return
		}
		out[i] = embedding{values}
	}
	writeJSON(w, map[string][]embedding{"embeddings": out})
}

// embed returns the embedding of the request's content, or the message refusing it; field names
// the request in that message.
func (r embedRequest) embed(field string) ([]float32, string) {
	if r.Content == nil || !isObject(*r.Content) {
		return nil, "* " + field + ".content: content is not specified"
	}
	dim := DefaultDimension
	if r.OutputDimensionality != nil {
		dim = *r.OutputDimensionality
		if dim < 1 || dim > MaxDimension {
			return nil, "* " + field + ".output_dimensionality: must be between 1 and " + strconv.Itoa(MaxDimension)
		}
	}
	return Embedding(strings.Join(texts(*r.Content), " "), dim), ""
}

// Embedding is the simulator's stand-in for an embedding model: a unit vector of dim values, each
// drawn uniformly from [-1, 1) by a PCG generator seeded with the FNV-1a hash of text, then scaled
// to length 1. The same text and dimension always give the same vector.
func Embedding(text string, dim int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(text)) // a hash's Write never fails
	seed := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	raw := make([]float64, dim)
	var norm float64
	for i := range raw {
		raw[i] = rng.Float64()*2 - 1
		norm += raw[i] * raw[i]
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dim)
	for i, v := range raw {
		out[i] = float32(v / norm)
	}
	return out
}

// PromptTokens is the simulator's token count of a request: the words (runs of characters that
// are not white space, CountTokens) of every "text" string anywhere in its JSON, the contents'
// parts, a systemInstruction and a countTokens generateContentRequest alike. A countTokens call
// therefore counts what the promptTokenCount of the same request's generation says.
func PromptTokens(body []byte) int {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return 0
	}
	n := 0
	for _, t := range textsOf(v, nil) {
		n += CountTokens(t)
	}
	return n
}

// texts returns the "text" strings of a JSON value: arrays in order, objects by sorted key, so
// that the same value always gives the same texts in the same order.
func texts(raw json.RawMessage) []string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return textsOf(v, nil)
}

func textsOf(v any, out []string) []string {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			child := v[k]
			if s, ok := child.(string); ok && k == "text" {
				out = append(out, s)
				continue
			}
			out = textsOf(child, out)
		}
	case []any:
		for _, child := range v {
			out = textsOf(child, out)
		}
	}
	return out
}

func isObject(b []byte) bool { return LooksLikeObject(b) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	// A failed write means the client left; the values here always encode.
	_, _ = w.Write(mustMarshal(v))
}
