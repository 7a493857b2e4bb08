package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/streamgate/streamgate/plugins/sdk"
)

// fsync policies.
const (
	fsyncBatch = "batch"
	fsyncClose = "close"
	fsyncNever = "never"
)

type config struct {
	Dir   string `json:"dir"`
	Fsync string `json:"fsync"`
}

// transport opens one session per stream file; a file has at most one open session at a time.
type transport struct {
	mu   sync.Mutex
	cfg  config
	busy map[string]bool // paths with an open session
}

var (
	_ sdk.Transport  = (*transport)(nil)
	_ sdk.Configurer = (*transport)(nil)
	_ sdk.Aborter    = (*session)(nil)
)

func newTransport() *transport { return &transport{busy: make(map[string]bool)} }

func (t *transport) Configure(_ context.Context, raw json.RawMessage) error {
	c := config{Fsync: fsyncBatch}
	if err := sdk.DecodeConfig(raw, &c); err != nil {
		return err
	}
	if c.Dir == "" {
		return sdk.Invalid("/dir", "dir is required")
	}
	switch c.Fsync {
	case fsyncBatch, fsyncClose, fsyncNever:
	default:
		return sdk.Invalid("/fsync", "fsync must be %q, %q or %q, not %q", fsyncBatch, fsyncClose, fsyncNever, c.Fsync)
	}
	if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return sdk.Invalid("/dir", "cannot create directory: %v", err)
	}
	t.mu.Lock()
	t.cfg = c
	t.mu.Unlock()
	return nil
}

func (t *transport) Open(_ context.Context, req sdk.OpenRequest) (sdk.Session, error) {
	if err := sdk.DecodeConfig(req.Config, &struct{}{}); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cfg.Dir == "" {
		return nil, fmt.Errorf("jsonl transport is not configured")
	}
	path := streamPath(t.cfg.Dir, req.Tenant, req.StreamID, req.Instance)
	if t.busy[path] {
		return nil, fmt.Errorf("stream %q already has an open jsonl session", req.StreamID)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create the tenant's directory: %w", err)
	}
	f, st, err := openLog(path)
	if err != nil {
		return nil, err
	}
	t.busy[path] = true
	s := &session{t: t, path: path, f: f, state: st, streamID: req.StreamID, fsync: t.cfg.Fsync}
	s.enc = json.NewEncoder(&s.buf)
	s.enc.SetEscapeHTML(false)
	return s, nil
}

func (t *transport) release(path string) {
	t.mu.Lock()
	delete(t.busy, path)
	t.mu.Unlock()
}

// session appends one stream's chunks to its file.
type session struct {
	t        *transport
	path     string
	f        *os.File
	state    logState
	streamID string
	fsync    string
	buf      bytes.Buffer
	enc      *json.Encoder // writes to buf, without escaping HTML
}

type chunkLine struct {
	StreamID string          `json:"stream_id"`
	ID       uint64          `json:"id"`
	Event    string          `json:"event"`
	Data     json.RawMessage `json:"data"`
}

type closeLine struct {
	StreamID string     `json:"stream_id"`
	Closed   bool       `json:"closed"`
	Reason   string     `json:"reason"`
	Error    *lineError `json:"error,omitempty"`
}

type lineError struct {
	Code    int    `json:"code"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (s *session) Deliver(_ context.Context, chunks []sdk.Chunk) error {
	s.buf.Reset()
	last := s.state.lastID
	for _, c := range chunks {
		if c.ID <= last {
			continue
		}
		if err := s.enc.Encode(chunkLine{StreamID: s.streamID, ID: c.ID, Event: c.Event, Data: jsonData(c.Data)}); err != nil {
			return fmt.Errorf("encode chunk %d: %w", c.ID, err)
		}
		last = c.ID
	}
	if last == s.state.lastID {
		return nil
	}
	if err := s.write(s.fsync == fsyncBatch); err != nil {
		return err
	}
	s.state.lastID = last
	s.state.closed = false
	return nil
}

func (s *session) Close(_ context.Context, info sdk.CloseInfo) error {
	defer s.Abort()
	if s.state.closed {
		return nil
	}
	line := closeLine{StreamID: s.streamID, Closed: true, Reason: info.Reason}
	if info.Err != nil {
		line.Error = &lineError{Code: info.Err.Code, Status: info.Err.Status, Message: info.Err.Message}
	}
	s.buf.Reset()
	if err := s.enc.Encode(line); err != nil {
		return fmt.Errorf("encode close line: %w", err)
	}
	return s.write(s.fsync != fsyncNever)
}

// Abort closes the file without a final line: the gateway will open the session again.
func (s *session) Abort() {
	if s.f == nil {
		return
	}
	if err := s.f.Close(); err != nil {
		sdk.Logger().Warn("close file", "path", s.path, "error", err)
	}
	s.f = nil
	s.t.release(s.path)
}

// write appends s.buf at the end of the file; on failure it cuts the file back so that no torn
// line stays behind.
func (s *session) write(sync bool) error {
	if s.f == nil {
		return &sdk.Error{Code: 500, Status: "INTERNAL", Message: "jsonl session is closed"}
	}
	n, err := s.f.WriteAt(s.buf.Bytes(), s.state.size)
	if err == nil && sync {
		err = s.f.Sync()
	}
	if err != nil {
		if terr := s.f.Truncate(s.state.size); terr != nil {
			err = fmt.Errorf("%w (and truncating after it: %v)", err, terr)
		}
		return &sdk.Error{Code: 500, Status: "INTERNAL", Message: fmt.Sprintf("write %s: %v", s.path, err), Retryable: true}
	}
	s.state.size += int64(n)
	return nil
}

// jsonData returns data when it is JSON, else data as a JSON string. The encoder compacts a
// json.RawMessage, so a line holds the value without its whitespace.
func jsonData(data []byte) json.RawMessage {
	if json.Valid(data) {
		return data
	}
	s, _ := json.Marshal(string(data)) // a string always marshals
	return s
}
