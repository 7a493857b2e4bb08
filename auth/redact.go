package auth

import (
	"fmt"
	"io"
)

// Redacted stands in for a secret wherever a credential-holding type of this package is printed with
// any fmt verb, logged with log/slog or marshalled to JSON.
const Redacted = "[REDACTED]"

// writeSafe is the body of every Format method here: whatever the verb and flags, a credential-holding
// value prints its safe description and nothing else. Implementing fmt.Formatter (rather than only
// String) matters because verbs such as %d or %x would otherwise print the struct's fields.
func writeSafe(f fmt.State, s string) {
	// A failed write to a fmt.State has nowhere to be reported.
	_, _ = io.WriteString(f, s)
}
