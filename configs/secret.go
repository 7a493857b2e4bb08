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
