package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
)

// APIKey is the gateway's upstream API key for the Gemini Developer API. Apply sets it as the
// x-goog-api-key header of an outgoing request.
//
// An APIKey prints, logs and marshals as Redacted. The key sits behind a pointer so that even
// reflection-based printing of a struct that holds an APIKey value in an unexported field (where fmt
// cannot call its methods) shows an address, not the key.
type APIKey struct {
	key *string
}

// NewAPIKey returns an APIKey for key, which must be non-empty printable ASCII without spaces
// (ErrInvalidAPIKey otherwise; the error never contains the key).
func NewAPIKey(key string) (*APIKey, error) {
	if !isKeyText(key) {
		return nil, ErrInvalidAPIKey
	}
	return &APIKey{key: &key}, nil
}

// Apply sets the x-goog-api-key header of req, replacing any value it had. It is safe for concurrent use.
func (k *APIKey) Apply(_ context.Context, req *http.Request) error {
	if req == nil {
		return ErrNilRequest
	}
	if k == nil || k.key == nil {
		return ErrNoCredential
	}
	req.Header.Set(HeaderAPIKey, *k.key)
	return nil
}

// Secrets returns the key, the one secret Apply puts on requests, so that the upstream package can
// scrub it from upstream text that echoes it (an error quoting the key it refused). It returns nil
// for a zero APIKey. The caller must never log or return what it gets.
func (k *APIKey) Secrets() []string {
	if k == nil || k.key == nil {
		return nil
	}
	return []string{*k.key}
}

// String returns Redacted.
func (k *APIKey) String() string { return Redacted }

// GoString returns a Go-like description without the key.
func (k *APIKey) GoString() string { return "auth.APIKey{" + Redacted + "}" }

// Format prints Redacted for every verb.
func (k *APIKey) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		writeSafe(f, k.GoString())
		return
	}
	writeSafe(f, Redacted)
}

// LogValue logs Redacted.
func (k *APIKey) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON encodes Redacted as a JSON string.
func (k *APIKey) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }
