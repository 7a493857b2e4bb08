package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Identity is who an authenticated request acts as.
type Identity struct {
	// KeyID is the matching Key's ID, or "token/" + Tenant for a stream token (see AuthenticateRead):
	// log it as client_id, rate-limit by it.
	KeyID  string
	Tenant string // the tenant whose streams the request may see
}

// ViaToken reports whether the identity comes from a stream token rather than a key. Such a
// request may read only the stream the token was verified for, and only while that stream belongs
// to the token's tenant.
func (id Identity) ViaToken() bool { return strings.HasPrefix(id.KeyID, tokenKeyIDPrefix) }

// Keyring holds the gateway's client keys as SHA-256 digests and matches presented keys against them.
// It is immutable and safe for concurrent use. A nil *Keyring behaves as an empty one.
type Keyring struct {
	digests [][sha256.Size]byte
	ids     []Identity
}

// NewKeyring validates keys and builds a keyring. Every invalid entry is reported (errors.Join of
// *KeyError, each wrapping ErrInvalidKey): a bad ID or tenant, neither or both of Key and SHA256, a
// malformed key or digest, a duplicate ID, or two entries for the same key. An empty list is valid and
// gives an empty keyring; whether the gateway may then run open is its decision (see IsLoopback).
func NewKeyring(keys []Key) (*Keyring, error) {
	kr := &Keyring{
		digests: make([][sha256.Size]byte, 0, len(keys)),
		ids:     make([]Identity, 0, len(keys)),
	}
	var errs []error
	idAt := make(map[string]int, len(keys))
	digestAt := make(map[[sha256.Size]byte]int, len(keys))
	for i, k := range keys {
		bad := func(field, msg string) {
			errs = append(errs, &KeyError{Index: i, ID: k.ID, Field: field, Msg: msg})
		}
		if msg := nameError(k.ID); msg != "" {
			bad("id", msg)
		} else if j, dup := idAt[k.ID]; dup {
			bad("id", "duplicate of key["+strconv.Itoa(j)+"]")
		} else {
			idAt[k.ID] = i
		}
		if msg := nameError(k.Tenant); msg != "" {
			bad("tenant", msg)
		}
		d, field, msg := k.digest()
		if msg != "" {
			bad(field, msg)
			continue
		}
		if j, dup := digestAt[d]; dup {
			bad(k.secretField(), "same key as key["+strconv.Itoa(j)+"] (id "+strconv.Quote(keys[j].ID)+")")
			continue
		}
		digestAt[d] = i
		kr.digests = append(kr.digests, d)
		kr.ids = append(kr.ids, Identity{KeyID: k.ID, Tenant: k.Tenant})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return kr, nil
}

// Len returns the number of keys; 0 for an empty or nil keyring.
func (kr *Keyring) Len() int {
	if kr == nil {
		return 0
	}
	return len(kr.digests)
}

// Authenticate returns the identity of the key presented, and false when it matches none (or is empty).
//
// The presented key is hashed with SHA-256 and its digest compared with every stored digest using
// crypto/subtle, with no early exit, so the time taken reveals neither which key matched nor whether
// any did; only the length of the presented key (which the caller knows) affects it.
func (kr *Keyring) Authenticate(presented string) (Identity, bool) {
	if kr.Len() == 0 || presented == "" {
		return Identity{}, false
	}
	d := sha256Sum(presented)
	match, found := 0, 0
	for i := range kr.digests {
		eq := subtle.ConstantTimeCompare(d[:], kr.digests[i][:])
		match = subtle.ConstantTimeSelect(eq, i, match)
		found |= eq
	}
	if found == 0 {
		return Identity{}, false
	}
	return kr.ids[match], true
}

// String describes kr by its size; it never prints digests.
func (kr *Keyring) String() string {
	return "auth.Keyring{" + strconv.Itoa(kr.Len()) + " keys}"
}

// Format prints kr's description for every verb.
func (kr *Keyring) Format(f fmt.State, _ rune) { writeSafe(f, kr.String()) }

func sha256Sum(s string) [sha256.Size]byte {
	return sha256.Sum256([]byte(s))
}
