package auth

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
)

// maxNameLen bounds a key ID and a tenant name.
const maxNameLen = 128

// Key is one configured gateway client key. Exactly one of Key and SHA256 is set.
//
// Key prints, logs and marshals with its secret replaced by Redacted, so a []Key can be dumped safely.
type Key struct {
	// ID names the key in logs and rate limits. Required, unique within a keyring, 1 to 128 bytes of
	// ASCII letters, digits and "-_.:@".
	ID string
	// Key is the key clients present: printable ASCII without spaces.
	Key string
	// SHA256 is the hex-encoded SHA-256 digest of the key (64 hex digits, either case), for configs that
	// should not hold the key itself: `printf %s "$KEY" | sha256sum`.
	SHA256 string
	// Tenant is the tenant the key acts for. Required (there is no default, so that no two keys share
	// streams by accident), same character rules as ID. Keys naming the same tenant see the same streams.
	Tenant string
}

// String describes k without its secret.
func (k Key) String() string {
	return "auth.Key{ID:" + strconv.Quote(k.ID) + ", Tenant:" + strconv.Quote(k.Tenant) + ", " + k.secretField() + ":" + Redacted + "}"
}

// GoString describes k without its secret.
func (k Key) GoString() string { return k.String() }

// Format prints k's description for every verb.
func (k Key) Format(f fmt.State, _ rune) { writeSafe(f, k.String()) }

// LogValue logs k's ID and tenant, and Redacted for its secret.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", k.ID),
		slog.String("tenant", k.Tenant),
		slog.String(k.secretField(), Redacted),
	)
}

// MarshalJSON encodes k's ID and tenant, and Redacted for its secret.
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"id":            k.ID,
		"tenant":        k.Tenant,
		k.secretField(): Redacted,
	})
}

// secretField names the field holding k's secret: "sha256" when only SHA256 is set, else "key".
func (k Key) secretField() string {
	if k.Key == "" && k.SHA256 != "" {
		return "sha256"
	}
	return "key"
}

// KeyError reports an invalid entry of the key list given to NewKeyring. It names the entry by index
// and ID and never contains the key.
type KeyError struct {
	Index int    // position in the list, from 0
	ID    string // the entry's ID, possibly empty
	Field string // "id", "key", "sha256" or "tenant"
	Msg   string
}

// Error implements error, e.g. `key[2] (id "bob"): sha256: must be 64 hexadecimal digits`.
func (e *KeyError) Error() string {
	s := "key[" + strconv.Itoa(e.Index) + "]"
	if e.ID != "" {
		s += " (id " + strconv.Quote(e.ID) + ")"
	}
	return s + ": " + e.Field + ": " + e.Msg
}

// Unwrap returns ErrInvalidKey.
func (e *KeyError) Unwrap() error { return ErrInvalidKey }

// digest validates the secret half of k and returns the SHA-256 digest it stands for.
func (k Key) digest() (d [32]byte, field, msg string) {
	switch {
	case k.Key == "" && k.SHA256 == "":
		return d, "key", "one of key or sha256 is required"
	case k.Key != "" && k.SHA256 != "":
		return d, "key", "key and sha256 are mutually exclusive"
	case k.Key != "":
		if !isKeyText(k.Key) {
			return d, "key", "must be printable ASCII without spaces or control characters"
		}
		return sha256Sum(k.Key), "", ""
	}
	if len(k.SHA256) != 64 {
		return d, "sha256", "must be 64 hexadecimal digits (the hex SHA-256 of the key)"
	}
	if _, err := hex.Decode(d[:], []byte(k.SHA256)); err != nil {
		return d, "sha256", "must be 64 hexadecimal digits (the hex SHA-256 of the key)"
	}
	return d, "", ""
}

// isKeyText reports whether s is non-empty printable ASCII without spaces: what survives an HTTP header
// or a query parameter unchanged.
func isKeyText(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// nameError returns why s is not a valid key ID or tenant, or "" when it is.
func nameError(s string) string {
	if s == "" {
		return "required"
	}
	if len(s) > maxNameLen {
		return "longer than " + strconv.Itoa(maxNameLen) + " bytes"
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return "may contain only ASCII letters, digits and -_.:@"
		}
	}
	return ""
}

// isNameByte reports whether c may appear in a key ID or tenant: an ASCII letter or digit, or one
// of -_.:@.
func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == ':' || c == '@'
}
