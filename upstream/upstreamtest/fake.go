package upstreamtest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
	"github.com/streamgate/streamgate/upstream/sse"
)

// MaxRecords is how many requests a Fake keeps; its counters are exact.
const MaxRecords = 4096

// maxRequestBody bounds the request body a Fake reads and records.
const maxRequestBody = 64 << 20

// Request is what the fake recorded about one request.
type Request struct {
	Time     time.Time // arrival
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	Model    string // from a Gemini or Vertex path, else ""
	Call     string // the method of a models/{model}:{method} path ("streamGenerateContent", "countTokens", ...), else ""
	Vertex   bool   // a Vertex AI path
}

// Fake is a scriptable fake Gemini API; see the package documentation. It is safe for concurrent
// use.
type Fake struct {
	stop     chan struct{}
	stopOnce sync.Once

	mu        sync.Mutex
	def       Script
	queue     []Script
	records   []Request // a ring once it holds MaxRecords: the oldest is at records[requests%MaxRecords]
	requests  int
	cancelled int
	apiKey    string
	bearer    func(token string) bool
	echo      bool
}

// NewFake returns a Fake that plays def for every request no queued script is left for.
func NewFake(def Script) *Fake {
	return &Fake{def: def, stop: make(chan struct{})}
}

// Enqueue queues scripts for the next requests, one each, in order.
func (f *Fake) Enqueue(scripts ...Script) {
	f.mu.Lock()
	f.queue = append(f.queue, scripts...)
	f.mu.Unlock()
}

// SetDefault replaces the default script.
func (f *Fake) SetDefault(s Script) {
	f.mu.Lock()
	f.def = s
	f.mu.Unlock()
}

// RequireAPIKey makes the fake answer as Gemini does to requests without x-goog-api-key: key
// (403 PERMISSION_DENIED when it is missing, 400 INVALID_ARGUMENT when it is wrong).
func (f *Fake) RequireAPIKey(key string) {
	f.mu.Lock()
	f.apiKey = key
	f.mu.Unlock()
}

// RequireBearer makes the fake answer 401 UNAUTHENTICATED to requests without an
// "Authorization: Bearer <token>" header for which valid(token) holds.
func (f *Fake) RequireBearer(valid func(token string) bool) {
	f.mu.Lock()
	f.bearer = valid
	f.mu.Unlock()
}

// EchoCredentials makes the refusals of RequireAPIKey and RequireBearer quote the key or token
// they refused, as a careless upstream or proxy does (echo false: as Gemini does, they do not).
func (f *Fake) EchoCredentials(echo bool) {
	f.mu.Lock()
	f.echo = echo
	f.mu.Unlock()
}

// Requests returns the recorded requests, oldest first (the last MaxRecords of them).
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	oldest := 0
	if len(f.records) == MaxRecords {
		oldest = f.requests % MaxRecords
	}
	return append(append([]Request(nil), f.records[oldest:]...), f.records[:oldest]...)
}

// RequestCount returns how many requests arrived.
func (f *Fake) RequestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// CancelledCount returns how many requests ended (their context done) before their script did.
func (f *Fake) CancelledCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cancelled
}

// Close ends every stall and delay in progress and makes later ones return at once.
func (f *Fake) Close() {
	f.stopOnce.Do(func() { close(f.stop) })
}

// ServeHTTP plays the next script.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	path, isModels := geminiwire.ParseModelPath(r.URL.Path)
	rec := Request{
		Time: time.Now(), Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, Model: path.Model, Call: path.Method, Vertex: path.Vertex,
	}
	sc, queued, denied := f.admit(rec)
	if denied != nil {
		denied(w)
		return
	}
	if isOpenAI(r.URL.Path) && !queued {
		f.serveOpenAI(w, r, body)
		return
	}
	if isModels && !queued && path.Method != geminiwire.MethodStream && path.Method != geminiwire.MethodGenerate {
		geminiwire.ServeModels(w, r, path, body)
		return
	}
	stream := isModels && path.Method == geminiwire.MethodStream
	if stream && r.URL.Query().Get("alt") != "sse" {
		geminiwire.WriteError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "fake: streamGenerateContent wants alt=sse")
		return
	}
	if !f.play(w, r, sc, (isModels && !stream) || isOpenAI(r.URL.Path)) && r.Context().Err() != nil {
		f.mu.Lock()
		f.cancelled++
		f.mu.Unlock()
	}
}

// admit records a request and returns its script and whether it was queued, or a response
// refusing its credentials.
func (f *Fake) admit(rec Request) (Script, bool, func(http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.records) < MaxRecords {
		f.records = append(f.records, rec)
	} else {
		f.records[f.requests%MaxRecords] = rec
	}
	f.requests++
	if deny := f.checkAuth(rec.Header, isOpenAI(rec.Path)); deny != nil {
		return Script{}, false, deny
	}
	if len(f.queue) > 0 {
		sc := f.queue[0]
		f.queue = f.queue[1:]
		return sc, true, nil
	}
	return f.def, false, nil
}

// checkAuth returns a refusal for a request without the required credentials; f.mu is held. The
// OpenAI-compatible endpoints (openai) take the API key as Authorization: Bearer and refuse as
// Gemini's compatibility endpoint does, Gemini's error wrapped in a JSON array.
func (f *Fake) checkAuth(h http.Header, openai bool) func(http.ResponseWriter) {
	if f.apiKey != "" && openai {
		if key, _ := strings.CutPrefix(h.Get("Authorization"), "Bearer "); key != f.apiKey || h.Get("x-goog-api-key") != "" {
			return refuseArray(http.StatusBadRequest, "INVALID_ARGUMENT", "API key not valid"+f.quote(key)+". Please pass a valid API key.")
		}
		return nil
	}
	if f.apiKey != "" {
		switch key := h.Get("x-goog-api-key"); {
		case key == "":
			return refuse(http.StatusForbidden, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
		case key != f.apiKey:
			return refuse(http.StatusBadRequest, "INVALID_ARGUMENT", "API key not valid"+f.quote(key)+". Please pass a valid API key.")
		}
	}
	if f.bearer != nil {
		token, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
		if !ok || !f.bearer(token) {
			return refuse(http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials"+f.quote(token)+". Expected OAuth 2 access token.")
		}
	}
	return nil
}

// quote returns ": " and the refused credential when the fake echoes them, else ""; f.mu is held.
func (f *Fake) quote(cred string) string {
	if !f.echo || cred == "" {
		return ""
	}
	return ": " + cred
}

func refuse(code int, status, msg string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { geminiwire.WriteError(w, code, status, msg) }
}

// refuseArray is refuse with the error body wrapped in a JSON array.
func refuseArray(code int, status, msg string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(code)
		_, _ = w.Write(append(append([]byte("["), bytes.TrimSpace(geminiwire.ErrorBody(code, status, msg))...), "]\n"...))
	}
}

// isOpenAI reports whether a path is one of Gemini's OpenAI-compatible API, {version}/openai/....
func isOpenAI(path string) bool { return strings.Contains(path, "/openai/") }

// play answers with sc; it reports whether the script ran to its end. A unary call (a model's
// method but streamGenerateContent, a model, the list) is answered with sc.Body when it has one.
func (f *Fake) play(w http.ResponseWriter, r *http.Request, sc Script, unary bool) bool {
	for name, values := range sc.Header {
		w.Header()[name] = append([]string(nil), values...)
	}
	failed := sc.Status != 0 && sc.Status != http.StatusOK
	switch {
	case failed && sc.Steps != nil:
		// An error status whose body is scripted, e.g. one that stalls.
		setDefault(w.Header(), "Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(sc.Status)
	case failed:
		body := sc.Body
		if body == nil {
			body = geminiwire.ErrorBody(sc.Status, manager.StatusForCode(sc.Status), http.StatusText(sc.Status))
		}
		setDefault(w.Header(), "Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(sc.Status)
		_, err := w.Write(body)
		return err == nil
	case unary && sc.Body != nil:
		setDefault(w.Header(), "Content-Type", "application/json; charset=UTF-8")
		_, err := w.Write(sc.Body)
		return err == nil
	}
	steps := sc.Steps
	if id := r.Header.Get("Last-Event-ID"); sc.Resume && id != "" {
		steps = after(steps, id)
	}
	return f.stream(r.Context(), w, steps, newline(sc.Framing))
}

// stream plays steps as an event stream.
func (f *Fake) stream(ctx context.Context, w http.ResponseWriter, steps []Step, nl sse.Newline) bool {
	setDefault(w.Header(), "Content-Type", "text/event-stream")
	setDefault(w.Header(), "Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	var frame []byte
	for _, st := range steps {
		if !f.wait(ctx, st.Delay) {
			return false
		}
		var err error
		switch {
		case st.Fault == FaultReset:
			reset(rc)
			return true
		case st.Fault == FaultStall:
			select {
			case <-ctx.Done():
				return false
			case <-f.stop:
				return true
			}
		case st.Fault == FaultHeaders:
			err = rc.Flush()
		case st.Data != nil:
			frame, err = sse.AppendEvent(frame[:0], sse.Event{Type: st.Event, Data: st.Data, LastEventID: st.ID}, st.ID != "", nl)
			if err == nil {
				err = write(w, rc, frame)
			}
		case st.Raw != nil:
			err = write(w, rc, st.Raw)
		}
		if err != nil {
			return false
		}
	}
	return rc.Flush() == nil
}

func write(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}

// reset closes the connection with a TCP reset, or aborts the response where the connection cannot
// be taken over (HTTP/2).
func reset(rc *http.ResponseController) {
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		// SetLinger(0) makes Close send RST instead of FIN.
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// wait sleeps d, or until the request ends (false) or the fake closes.
func (f *Fake) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-f.stop:
		return true
	case <-ctx.Done():
		return false
	}
}

// after returns the steps following the event with the given ID, or all of them when no event
// has it.
func after(steps []Step, id string) []Step {
	for i, st := range steps {
		if st.Data != nil && st.ID == id {
			return steps[i+1:]
		}
	}
	return steps
}

func newline(f Framing) sse.Newline {
	switch f {
	case LF:
		return sse.LF
	case CR:
		return sse.CR
	}
	return sse.CRLF
}

// setDefault sets a header the script did not set. A script's nil value leaves it unset, and keeps
// net/http from sniffing a Content-Type.
func setDefault(h http.Header, name, value string) {
	if _, set := h[http.CanonicalHeaderKey(name)]; !set {
		h.Set(name, value)
	}
}
