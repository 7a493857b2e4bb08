package upstream

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
	"github.com/streamgate/streamgate/upstream/sse"
)

// Defaults of SimulatorConfig.
const (
	DefaultSimulatorChunks = 12
	DefaultSimulatorText   = "Hello from streamgate's built-in simulator. No upstream API key is configured, " +
		"so this reply is generated locally and streamed like Gemini would stream it: one chunk at a time, " +
		"each a GenerateContentResponse, the last one with a finishReason and usage metadata. Set " +
		"GEMINI_API_KEY or configure an upstream to talk to a real model."
)

// simulatorBase is the URL the simulator's requests carry; they never leave the process.
const simulatorBase = "http://simulator.invalid"

// maxSimulatorBody bounds the request body the simulator reads.
const maxSimulatorBody = 32 << 20

// SimulatorConfig configures the simulator provider.
type SimulatorConfig struct {
	// Chunks is how many chunks the reply is split into (at word boundaries, so a short Text may
	// give fewer); 0 means DefaultSimulatorChunks.
	Chunks int
	// Interval is the pause before each chunk, and before a non-streaming reply; 0 means none.
	Interval time.Duration
	// Text is the reply; "" means DefaultSimulatorText.
	Text string
}

// Simulator is an embedded provider that answers like Gemini without any network: its requests go
// through an in-process http.RoundTripper to a handler that streams Text in Chunks at the given
// pace, through the same parsing path as a real upstream. It checks requests as Gemini does (a
// model path, a JSON body with contents) and needs no credential.
//
// It answers the rest of the models collection too, deterministically (geminiwire.ServeModels):
// countTokens counts the words of every "text" string of the request, as the promptTokenCount of
// a generation does; embedContent and batchEmbedContents give each content's text a unit vector
// of 768 values (or outputDimensionality, up to 3072) seeded by its FNV-1a hash; the models list
// names the simulated models (gemini-2.5-flash, gemini-2.5-pro, gemini-2.5-flash-lite,
// gemini-embedding-001), 50 a page unless pageSize asks otherwise; and models.get answers 404
// NOT_FOUND for a model not in it. Generations accept any model name.
//
// It serves Gemini's OpenAI-compatible API too, below /v1beta/openai/ (serveOpenAI): chat
// completions, streamed as that endpoint streams them when asked (with the usage chunk of
// stream_options.include_usage, then data: [DONE]), embeddings and the models list. Two model
// names fail on purpose there: SimulatorModelRateLimited and SimulatorModelFailsMidStream.
type Simulator struct {
	modelAPI
	pieces   []string
	interval time.Duration
	usage    geminiwire.Usage
}

var (
	_ Provider    = (*Simulator)(nil)
	_ Transporter = (*Simulator)(nil)
)

// NewSimulator validates cfg and returns a Simulator.
func NewSimulator(cfg SimulatorConfig) (*Simulator, error) {
	if cfg.Chunks < 0 || cfg.Interval < 0 {
		return nil, fmt.Errorf("%w: simulator Chunks and Interval must not be negative", ErrInvalidConfig)
	}
	text := cmp.Or(cfg.Text, DefaultSimulatorText)
	base, err := url.Parse(simulatorBase)
	if err != nil {
		return nil, err
	}
	return &Simulator{
		modelAPI: modelAPI{base: base, version: DefaultGeminiAPIVersion, callerVersion: true, openai: geminiOpenAIPrefix},
		pieces:   geminiwire.Split(text, cmp.Or(cfg.Chunks, DefaultSimulatorChunks)),
		interval: cfg.Interval,
		usage:    geminiwire.Usage{CandidatesTokens: geminiwire.CountTokens(text)},
	}, nil
}

// Name returns "simulator".
func (s *Simulator) Name() string { return "simulator" }

// Transport returns the in-process transport that serves the simulator's requests.
func (s *Simulator) Transport() http.RoundTripper { return &pipeTransport{handler: s} }

// ServeHTTP answers one Gemini request: a generation, or any other call of the models
// collection (geminiwire.ServeModels).
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint, openai := strings.CutPrefix(r.URL.Path, geminiOpenAIPrefix+"/")
	path, ok := geminiwire.ParseModelPath(r.URL.Path)
	if !ok && !openai {
		geminiwire.WriteError(w, http.StatusNotFound, "NOT_FOUND", "simulator: no method "+r.Method+" "+r.URL.Path)
		return
	}
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, maxSimulatorBody)); err != nil {
			geminiwire.WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "simulator: read request body: "+err.Error())
			return
		}
	}
	if openai {
		s.serveOpenAI(w, r, endpoint, body)
		return
	}
	if path.Method != geminiwire.MethodStream && path.Method != geminiwire.MethodGenerate {
		geminiwire.ServeModels(w, r, path, body)
		return
	}
	if r.Method != http.MethodPost {
		geminiwire.WriteError(w, http.StatusNotFound, "NOT_FOUND", "simulator: no method "+r.Method+" "+r.URL.Path)
		return
	}
	if msg, ok := geminiwire.CheckRequest(body); !ok {
		geminiwire.WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg)
		return
	}
	usage := s.usage
	usage.PromptTokens = geminiwire.PromptTokens(body)
	if path.Method == geminiwire.MethodGenerate {
		s.generate(w, r, path.Model, usage)
		return
	}
	if r.URL.Query().Get("alt") != "sse" {
		geminiwire.WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "simulator: streamGenerateContent answers alt=sse only")
		return
	}
	s.stream(w, r, path.Model, usage)
}

func (s *Simulator) generate(w http.ResponseWriter, r *http.Request, model string, usage geminiwire.Usage) {
	if !sleep(r.Context(), s.interval) {
		return
	}
	text := strings.Join(s.pieces, "")
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	// A failed write means the client left.
	_, _ = w.Write(geminiwire.Response(text, usage, model, ""))
}

func (s *Simulator) stream(w http.ResponseWriter, r *http.Request, model string, usage geminiwire.Usage) {
	geminiwire.StartStream(w)
	var frame []byte
	for i, p := range s.pieces {
		if !sleep(r.Context(), s.interval) {
			return
		}
		data := geminiwire.Chunk(p, i == len(s.pieces)-1, usage, model, "")
		// Chunk JSON has no CR, the only thing AppendEvent rejects.
		frame, _ = geminiwire.AppendEvent(frame[:0], data, sse.CRLF)
		if _, err := w.Write(frame); err != nil {
			return
		}
	}
}
