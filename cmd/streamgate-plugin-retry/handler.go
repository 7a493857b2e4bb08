package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/streamgate/streamgate/plugins/sdk"
)

type config struct {
	Rules []ruleConfig `json:"rules"`
}

type ruleConfig struct {
	Phase       string   `json:"phase"`
	Codes       []int    `json:"codes"`
	Statuses    []string `json:"statuses"`
	Action      string   `json:"action"`
	MaxAttempts int      `json:"max_attempts"`
	Backoff     string   `json:"backoff"`
	MaxBackoff  string   `json:"max_backoff"`
	Message     string   `json:"message"`
}

// rule is a validated ruleConfig.
type rule struct {
	phase       sdk.Phase // 0 matches both
	codes       []int
	statuses    []string // upper case
	action      sdk.Action
	maxAttempts int
	backoff     time.Duration
	maxBackoff  time.Duration
	message     string
}

type handler struct {
	mu    sync.RWMutex
	rules []rule
}

var (
	_ sdk.ErrorHandler = (*handler)(nil)
	_ sdk.Configurer   = (*handler)(nil)
)

func (h *handler) Configure(_ context.Context, raw json.RawMessage) error {
	var c config
	if err := sdk.DecodeConfig(raw, &c); err != nil {
		return err
	}
	var diags sdk.Diagnostics
	rules := make([]rule, 0, len(c.Rules))
	for i, rc := range c.Rules {
		r, d := rc.validate(fmt.Sprintf("/rules/%d", i))
		diags = append(diags, d...)
		rules = append(rules, r)
	}
	if diags.HasError() {
		return diags
	}
	h.mu.Lock()
	h.rules = rules
	h.mu.Unlock()
	return nil
}

func (rc ruleConfig) validate(at string) (rule, sdk.Diagnostics) {
	var diags sdk.Diagnostics
	r := rule{codes: rc.Codes, maxAttempts: rc.MaxAttempts, message: rc.Message}
	switch rc.Phase {
	case "":
	case "upstream":
		r.phase = sdk.PhaseUpstream
	case "delivery":
		r.phase = sdk.PhaseDelivery
	default:
		diags = append(diags, sdk.Invalid(at+"/phase", "phase must be \"upstream\" or \"delivery\", not %q", rc.Phase)...)
	}
	for _, s := range rc.Statuses {
		r.statuses = append(r.statuses, strings.ToUpper(s))
	}
	switch rc.Action {
	case "retry":
		r.action = sdk.ActionRetry
	case "terminate":
		r.action = sdk.ActionTerminate
	case "skip":
		r.action = sdk.ActionSkip
	case "defer":
		r.action = sdk.ActionDefer
	default:
		diags = append(diags, sdk.Invalid(at+"/action", "action must be retry, terminate, skip or defer, not %q", rc.Action)...)
	}
	if r.maxAttempts == 0 {
		r.maxAttempts = 3
	}
	if r.maxAttempts < 1 {
		diags = append(diags, sdk.Invalid(at+"/max_attempts", "max_attempts must be at least 1, not %d", rc.MaxAttempts)...)
	}
	r.backoff = parseDuration(rc.Backoff, 200*time.Millisecond, at+"/backoff", &diags)
	r.maxBackoff = parseDuration(rc.MaxBackoff, 10*time.Second, at+"/max_backoff", &diags)
	return r, diags
}

func parseDuration(s string, def time.Duration, at string, diags *sdk.Diagnostics) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		*diags = append(*diags, sdk.Invalid(at, "want a positive duration such as \"200ms\", not %q", s)...)
	}
	return d
}

func (h *handler) Handle(_ context.Context, info sdk.ErrorInfo) (sdk.Decision, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, r := range h.rules {
		if r.matches(info) {
			return r.decide(info), nil
		}
	}
	return sdk.Decision{Action: sdk.ActionDefer}, nil
}

func (r rule) matches(info sdk.ErrorInfo) bool {
	if r.phase != 0 && r.phase != info.Phase {
		return false
	}
	if len(r.codes) > 0 && !slices.Contains(r.codes, info.Err.Code) &&
		(info.Err.HTTPStatus == 0 || !slices.Contains(r.codes, info.Err.HTTPStatus)) {
		return false
	}
	return len(r.statuses) == 0 || slices.Contains(r.statuses, strings.ToUpper(info.Err.Status))
}

func (r rule) decide(info sdk.ErrorInfo) sdk.Decision {
	switch {
	case r.action == sdk.ActionRetry && info.Attempt < r.maxAttempts:
		return sdk.Decision{Action: sdk.ActionRetry, RetryAfter: r.delay(info.Attempt)}
	case r.action == sdk.ActionRetry, r.action == sdk.ActionTerminate:
		d := sdk.Decision{Action: sdk.ActionTerminate}
		if r.message != "" {
			d.Err = &sdk.Error{Code: info.Err.Code, Status: info.Err.Status, Message: r.message}
		}
		return d
	}
	return sdk.Decision{Action: r.action}
}

// delay is the wait before the retry that follows attempt: backoff doubled per attempt, capped,
// with equal jitter.
func (r rule) delay(attempt int) time.Duration {
	d := r.backoff
	for i := 1; i < attempt && d < r.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.maxBackoff)
	half := d / 2
	return half + rand.N(d-half+1)
}
