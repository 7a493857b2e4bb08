package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/streamgate/streamgate/plugins/sdk"
)

type config struct {
	URL                  string            `json:"url"`
	Headers              map[string]string `json:"headers"`
	Timeout              string            `json:"timeout"`
	MaxAttempts          int               `json:"max_attempts"`
	InitialBackoff       string            `json:"initial_backoff"`
	MaxBackoff           string            `json:"max_backoff"`
	AllowSubscriptionURL bool              `json:"allow_subscription_url"`
}

type subConfig struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

// settings is a validated configuration.
type settings struct {
	url            string
	headers        map[string]string
	timeout        time.Duration
	maxAttempts    int
	initialBackoff time.Duration
	maxBackoff     time.Duration
	allowSubURL    bool
}

type transport struct {
	mu sync.Mutex
	s  *settings
}

var (
	_ sdk.Transport  = (*transport)(nil)
	_ sdk.Configurer = (*transport)(nil)
)

func (t *transport) Configure(_ context.Context, raw json.RawMessage) error {
	c := config{Timeout: "10s", MaxAttempts: 5, InitialBackoff: "200ms", MaxBackoff: "5s"}
	if err := sdk.DecodeConfig(raw, &c); err != nil {
		return err
	}
	s, diags := c.validate()
	if diags.HasError() {
		return diags
	}
	t.mu.Lock()
	t.s = s
	t.mu.Unlock()
	return nil
}

func (c config) validate() (*settings, sdk.Diagnostics) {
	var diags sdk.Diagnostics
	s := &settings{url: c.URL, headers: c.Headers, maxAttempts: c.MaxAttempts, allowSubURL: c.AllowSubscriptionURL}
	if err := checkURL(c.URL); err != nil {
		diags = append(diags, sdk.Invalid("/url", "%v", err)...)
	}
	if c.MaxAttempts < 1 {
		diags = append(diags, sdk.Invalid("/max_attempts", "max_attempts must be at least 1, not %d", c.MaxAttempts)...)
	}
	for _, d := range []struct {
		path, value string
		dst         *time.Duration
	}{{"/timeout", c.Timeout, &s.timeout}, {"/initial_backoff", c.InitialBackoff, &s.initialBackoff}, {"/max_backoff", c.MaxBackoff, &s.maxBackoff}} {
		v, err := time.ParseDuration(d.value)
		if err != nil || v <= 0 {
			diags = append(diags, sdk.Invalid(d.path, "want a positive duration such as \"5s\", not %q", d.value)...)
		}
		*d.dst = v
	}
	return s, diags
}

func checkURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("url is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url must be an absolute http or https URL, not %q", raw)
	}
	return nil
}

func (t *transport) Open(_ context.Context, req sdk.OpenRequest) (sdk.Session, error) {
	t.mu.Lock()
	s := t.s
	t.mu.Unlock()
	if s == nil {
		return nil, fmt.Errorf("webhook transport is not configured")
	}
	var sc subConfig
	if err := sdk.DecodeConfig(req.Config, &sc); err != nil {
		return nil, err
	}
	target := s.url
	if sc.URL != "" {
		if !s.allowSubURL {
			return nil, sdk.Invalid("/url", "this webhook plugin does not let subscriptions choose the url (allow_subscription_url is false)")
		}
		if err := checkURL(sc.URL); err != nil {
			return nil, sdk.Invalid("/url", "%v", err)
		}
		target = sc.URL
	}
	// The operator's headers win over a subscription's.
	headers := maps.Clone(sc.Headers)
	if headers == nil {
		headers = make(map[string]string)
	}
	maps.Copy(headers, s.headers)
	return &session{
		poster: &poster{client: &http.Client{Timeout: s.timeout}, url: target, headers: headers,
			maxAttempts: s.maxAttempts, initialBackoff: s.initialBackoff, maxBackoff: s.maxBackoff},
		streamID: req.StreamID, instance: req.Instance, subID: req.SubscriptionID, metadata: req.Metadata,
	}, nil
}

type session struct {
	poster   *poster
	streamID string
	instance string
	subID    string
	metadata map[string]string
}

type batchBody struct {
	StreamID       string            `json:"stream_id"`
	StreamInstance string            `json:"stream_instance,omitempty"`
	SubscriptionID string            `json:"subscription_id"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Chunks         []chunkBody       `json:"chunks"`
}

type chunkBody struct {
	ID    uint64          `json:"id"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	Time  time.Time       `json:"time"`
}

type closeBody struct {
	StreamID       string            `json:"stream_id"`
	StreamInstance string            `json:"stream_instance,omitempty"`
	SubscriptionID string            `json:"subscription_id"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Closed         bool              `json:"closed"`
	Reason         string            `json:"reason"`
	Error          *errorBody        `json:"error,omitempty"`
}

type errorBody struct {
	Code    int    `json:"code"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (s *session) Deliver(ctx context.Context, chunks []sdk.Chunk) error {
	body := batchBody{StreamID: s.streamID, StreamInstance: s.instance, SubscriptionID: s.subID, Metadata: s.metadata, Chunks: make([]chunkBody, len(chunks))}
	for i, c := range chunks {
		body.Chunks[i] = chunkBody{ID: c.ID, Event: c.Event, Data: jsonData(c.Data), Time: c.Time}
	}
	return s.poster.post(ctx, body)
}

func (s *session) Close(ctx context.Context, info sdk.CloseInfo) error {
	body := closeBody{StreamID: s.streamID, StreamInstance: s.instance, SubscriptionID: s.subID, Metadata: s.metadata, Closed: true, Reason: info.Reason}
	if info.Err != nil {
		body.Error = &errorBody{Code: info.Err.Code, Status: info.Err.Status, Message: info.Err.Message}
	}
	return s.poster.post(ctx, body)
}

// jsonData returns data when it is JSON, else data as a JSON string.
func jsonData(data []byte) json.RawMessage {
	if json.Valid(data) {
		return data
	}
	s, _ := json.Marshal(string(data)) // a string always marshals
	return s
}
