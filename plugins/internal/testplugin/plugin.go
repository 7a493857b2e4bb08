package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/streamgate/streamgate/plugins/sdk"
)

// config is the plugin's configuration.
type config struct {
	// Log is logged at Configure, at level warn, with attribute "k": "v"; Print is printed on
	// stdout, after the environment when Env is set, so that a test seeing it has seen all.
	Log   string `json:"log"`
	Print string `json:"print"`
	// Env prints the plugin's environment on stdout, one variable per line.
	Env bool `json:"env"`
	// Refuse makes Configure fail with a diagnostic at /refuse.
	Refuse bool `json:"refuse"`
	// Nack lists chunk IDs whose delivery fails, Times times each (default once), with Code.
	Nack  []uint64 `json:"nack"`
	Times int      `json:"times"`
	Code  int      `json:"code"`
	// Delay is added to every Deliver.
	Delay string `json:"delay"`
	// LogChunks logs "delivered" with the chunk's "id" for every chunk delivered, and "session
	// closed" with "reason" and "error" at Close.
	LogChunks bool `json:"log_chunks"`
	// Latency records, for every chunk, the time from its push (Chunk.Time) to its delivery, and
	// logs "latency" with "n", "p50_us", "p99_us" and "max_us" at Close.
	Latency bool `json:"latency"`
	// Decide is the error handler's answer: an action name, a delay and an optional message.
	Decide     string `json:"decide"`
	RetryAfter string `json:"retry_after"`
	Message    string `json:"message"`
	// Sleep makes the error handler take this long.
	Sleep string `json:"sleep"`
}

type transport struct {
	mu     sync.Mutex
	cfg    config
	failed map[uint64]int // times each ID was nacked
}

func (t *transport) configure(_ context.Context, raw json.RawMessage) error {
	var c config
	if err := sdk.DecodeConfig(raw, &c); err != nil {
		return err
	}
	if c.Refuse {
		return sdk.Diagnostics{
			{Severity: sdk.SeverityWarning, Summary: "just a warning"},
			{Severity: sdk.SeverityError, Summary: "refused on purpose", Detail: "refuse is true", Path: "/refuse"},
		}
	}
	if c.Log != "" {
		sdk.Logger().Warn(c.Log, "k", "v")
	}
	if c.Env {
		for _, kv := range os.Environ() {
			fmt.Fprintln(os.Stdout, "env:", kv)
		}
	}
	if c.Print != "" {
		fmt.Fprintln(os.Stdout, c.Print)
	}
	t.mu.Lock()
	t.cfg = c
	t.failed = make(map[uint64]int)
	t.mu.Unlock()
	return nil
}

func (t *transport) Open(_ context.Context, req sdk.OpenRequest) (sdk.Session, error) {
	var sc struct {
		Refuse bool `json:"refuse"`
	}
	if err := sdk.DecodeConfig(req.Config, &sc); err != nil {
		return nil, err
	}
	if sc.Refuse {
		return nil, sdk.Invalid("/refuse", "subscription refused on purpose")
	}
	return &session{t: t}, nil
}

type session struct {
	t       *transport
	latency []time.Duration
}

func (s *session) Deliver(_ context.Context, chunks []sdk.Chunk) error {
	s.t.mu.Lock()
	c := s.t.cfg
	var fail uint64
	for _, ch := range chunks {
		if slices.Contains(c.Nack, ch.ID) && s.t.failed[ch.ID] < max(c.Times, 1) {
			s.t.failed[ch.ID]++
			fail = ch.ID
			break
		}
	}
	s.t.mu.Unlock()
	if d, err := time.ParseDuration(c.Delay); err == nil {
		time.Sleep(d)
	}
	if fail != 0 {
		return &sdk.Error{Code: c.Code, Status: "UNAVAILABLE", Message: fmt.Sprintf("chunk %d refused on purpose", fail), Retryable: true}
	}
	if c.LogChunks {
		for _, ch := range chunks {
			sdk.Logger().Info("delivered", "id", ch.ID)
		}
	}
	if c.Latency {
		now := time.Now()
		for _, ch := range chunks {
			s.latency = append(s.latency, now.Sub(ch.Time))
		}
	}
	return nil
}

func (s *session) Close(_ context.Context, info sdk.CloseInfo) error {
	s.t.mu.Lock()
	logChunks := s.t.cfg.LogChunks
	s.t.mu.Unlock()
	if n := len(s.latency); n > 0 {
		slices.Sort(s.latency)
		us := func(q float64) int64 { return s.latency[min(n-1, int(q*float64(n)))].Microseconds() }
		sdk.Logger().Info("latency", "n", n, "p50_us", us(0.50), "p99_us", us(0.99), "max_us", s.latency[n-1].Microseconds())
	}
	if logChunks {
		msg := ""
		if info.Err != nil {
			msg = info.Err.Error()
		}
		sdk.Logger().Info("session closed", "reason", info.Reason, "error", msg)
	}
	return nil
}

type handler struct{ t *transport }

func (h *handler) Handle(ctx context.Context, info sdk.ErrorInfo) (sdk.Decision, error) {
	h.t.mu.Lock()
	c := h.t.cfg
	h.t.mu.Unlock()
	if d, err := time.ParseDuration(c.Sleep); err == nil {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return sdk.Decision{}, ctx.Err()
		}
	}
	retryAfter, _ := time.ParseDuration(c.RetryAfter)
	d := sdk.Decision{RetryAfter: retryAfter}
	switch c.Decide {
	case "retry":
		d.Action = sdk.ActionRetry
	case "skip":
		d.Action = sdk.ActionSkip
	case "terminate":
		d.Action = sdk.ActionTerminate
	case "fail":
		return sdk.Decision{}, fmt.Errorf("handler failing on purpose for %s", info.StreamID)
	}
	if c.Message != "" {
		d.Err = &sdk.Error{Code: info.Err.Code, Status: info.Err.Status, Message: c.Message}
	}
	return d, nil
}
