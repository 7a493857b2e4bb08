package manager

import (
	"fmt"

	"github.com/google/uuid"
)

// MaxIDLen is the longest stream ID accepted.
const MaxIDLen = 128

// ValidateID reports whether id is a valid stream ID: 1 to 128 bytes of printable ASCII with no
// spaces, and not "." or "..". The error wraps ErrInvalidID; IDs are never rewritten.
func ValidateID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return fmt.Errorf("%w: length must be 1 to %d bytes, got %d", ErrInvalidID, MaxIDLen, len(id))
	}
	// As a URL path segment, "." and ".." are removed by every client before the request is sent
	// (RFC 3986 section 5.2.4): such a stream's events_url could never be reached (issue 10).
	if id == "." || id == ".." {
		return fmt.Errorf("%w: %q is a dot segment, which URL clients remove from paths", ErrInvalidID, id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: byte %d is %q; only printable ASCII without spaces is allowed", ErrInvalidID, i, c)
		}
	}
	return nil
}

func newID() string { return uuid.NewString() }
