package configs

import (
	"fmt"
	"io"
)

// Redacted is what a non-empty Secret prints as.
const Redacted = "[redacted]"

// Secret is a string that never prints: fmt (every verb, %#v included), String and JSON encoding
// all show Redacted, or nothing when it is empty. Convert it with string(s) where the value is
// really needed.
type Secret string

// String returns Redacted, or "" for an empty Secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// Format implements fmt.Formatter so that no verb can print the value.
func (s Secret) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, s.String())
}

// MarshalJSON implements json.Marshaler with the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(`"` + s.String() + `"`), nil
}

// Secrets is a list of Secrets that a configuration file may also write as a single scalar: key:
// "${VAR}" gives one secret, or none when it expands to "", and key: [a, b] gives two.
type Secrets []Secret

// Bytes returns the secrets as byte slices, in order, the form package auth takes them in; nil
// for none.
func (s Secrets) Bytes() [][]byte {
	if len(s) == 0 {
		return nil
	}
	b := make([][]byte, len(s))
	for i, v := range s {
		b[i] = []byte(v)
	}
	return b
}
