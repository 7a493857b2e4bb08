package auth_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
)

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

const (
	aliceKey = "sk-alice-0123456789abcdef"
	bobKey   = "sk-bob-fedcba9876543210"
	carolKey = "sk-carol-0000000000000000"
)

func testKeys() []auth.Key {
	return []auth.Key{
		{ID: "alice", Key: aliceKey, Tenant: "acme"},
		{ID: "bob", SHA256: hexSHA256(bobKey), Tenant: "acme"},
		{ID: "carol", SHA256: strings.ToUpper(hexSHA256(carolKey)), Tenant: "globex"},
	}
}

func TestAuthenticate(t *testing.T) {
	kr, err := auth.NewKeyring(testKeys())
	require.NoError(t, err)
	require.Equal(t, 3, kr.Len())

	tests := []struct {
		name      string
		presented string
		want      auth.Identity
		ok        bool
	}{
		{"raw key", aliceKey, auth.Identity{KeyID: "alice", Tenant: "acme"}, true},
		{"lowercase digest", bobKey, auth.Identity{KeyID: "bob", Tenant: "acme"}, true},
		{"uppercase digest", carolKey, auth.Identity{KeyID: "carol", Tenant: "globex"}, true},
		{"wrong key", "sk-mallory", auth.Identity{}, false},
		{"prefix of a key", aliceKey[:len(aliceKey)-1], auth.Identity{}, false},
		{"key with suffix", aliceKey + "x", auth.Identity{}, false},
		{"the digest itself", hexSHA256(bobKey), auth.Identity{}, false},
		{"empty", "", auth.Identity{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := kr.Authenticate(tt.presented)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEmptyKeyring(t *testing.T) {
	for name, kr := range map[string]*auth.Keyring{
		"nil list":   must(auth.NewKeyring(nil)),
		"empty list": must(auth.NewKeyring([]auth.Key{})),
		"nil ring":   nil,
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, 0, kr.Len())
			id, ok := kr.Authenticate("anything")
			assert.False(t, ok)
			assert.Equal(t, auth.Identity{}, id)
			assert.Equal(t, "auth.Keyring{0 keys}", fmt.Sprint(kr))
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestNewKeyringErrors(t *testing.T) {
	long := strings.Repeat("x", 129)
	tests := []struct {
		name string
		keys []auth.Key
		want string
	}{
		{"no id", []auth.Key{{Key: aliceKey, Tenant: "t"}},
			`key[0]: id: required`},
		{"id too long", []auth.Key{{ID: long, Key: aliceKey, Tenant: "t"}},
			`key[0] (id "` + long + `"): id: longer than 128 bytes`},
		{"id with space", []auth.Key{{ID: "al ice", Key: aliceKey, Tenant: "t"}},
			`key[0] (id "al ice"): id: may contain only ASCII letters, digits and -_.:@`},
		{"no tenant", []auth.Key{{ID: "alice", Key: aliceKey}},
			`key[0] (id "alice"): tenant: required`},
		{"tenant with slash", []auth.Key{{ID: "alice", Key: aliceKey, Tenant: "a/b"}},
			`key[0] (id "alice"): tenant: may contain only ASCII letters, digits and -_.:@`},
		{"neither key nor sha256", []auth.Key{{ID: "alice", Tenant: "t"}},
			`key[0] (id "alice"): key: one of key or sha256 is required`},
		{"both key and sha256", []auth.Key{{ID: "alice", Key: aliceKey, SHA256: hexSHA256(aliceKey), Tenant: "t"}},
			`key[0] (id "alice"): key: key and sha256 are mutually exclusive`},
		{"key with space", []auth.Key{{ID: "alice", Key: "sk alice", Tenant: "t"}},
			`key[0] (id "alice"): key: must be printable ASCII without spaces or control characters`},
		{"key with newline", []auth.Key{{ID: "alice", Key: "sk-alice\n", Tenant: "t"}},
			`key[0] (id "alice"): key: must be printable ASCII without spaces or control characters`},
		{"key with non-ASCII", []auth.Key{{ID: "alice", Key: "sk-alicé", Tenant: "t"}},
			`key[0] (id "alice"): key: must be printable ASCII without spaces or control characters`},
		{"short sha256", []auth.Key{{ID: "alice", SHA256: hexSHA256(aliceKey)[:63], Tenant: "t"}},
			`key[0] (id "alice"): sha256: must be 64 hexadecimal digits (the hex SHA-256 of the key)`},
		{"non-hex sha256", []auth.Key{{ID: "alice", SHA256: "g" + hexSHA256(aliceKey)[1:], Tenant: "t"}},
			`key[0] (id "alice"): sha256: must be 64 hexadecimal digits (the hex SHA-256 of the key)`},
		{"duplicate id", []auth.Key{
			{ID: "alice", Key: aliceKey, Tenant: "t"},
			{ID: "alice", Key: bobKey, Tenant: "t"},
		}, `key[1] (id "alice"): id: duplicate of key[0]`},
		{"same key twice", []auth.Key{
			{ID: "alice", Key: aliceKey, Tenant: "t"},
			{ID: "alice2", Key: aliceKey, Tenant: "u"},
		}, `key[1] (id "alice2"): key: same key as key[0] (id "alice")`},
		{"same key as raw and digest", []auth.Key{
			{ID: "alice", Key: aliceKey, Tenant: "t"},
			{ID: "alice2", SHA256: hexSHA256(aliceKey), Tenant: "u"},
		}, `key[1] (id "alice2"): sha256: same key as key[0] (id "alice")`},
		{"every error reported", []auth.Key{
			{ID: "ok", Key: aliceKey, Tenant: "t"},
			{Key: "bad key"},
			{ID: "ok", SHA256: "abc", Tenant: "t"},
		}, "key[1]: id: required\n" +
			"key[1]: tenant: required\n" +
			"key[1]: key: must be printable ASCII without spaces or control characters\n" +
			`key[2] (id "ok"): id: duplicate of key[0]` + "\n" +
			`key[2] (id "ok"): sha256: must be 64 hexadecimal digits (the hex SHA-256 of the key)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr, err := auth.NewKeyring(tt.keys)
			require.Error(t, err)
			assert.Nil(t, kr)
			assert.Equal(t, tt.want, err.Error())
			assert.ErrorIs(t, err, auth.ErrInvalidKey)
			var ke *auth.KeyError
			require.ErrorAs(t, err, &ke)
			for _, k := range tt.keys {
				if k.Key != "" {
					assert.NotContains(t, err.Error(), k.Key)
				}
			}
		})
	}
}

func TestKeyErrorFields(t *testing.T) {
	_, err := auth.NewKeyring([]auth.Key{
		{ID: "alice", Key: aliceKey, Tenant: "t"},
		{ID: "bob", SHA256: "nothex", Tenant: "t"},
	})
	var ke *auth.KeyError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, auth.KeyError{Index: 1, ID: "bob", Field: "sha256",
		Msg: "must be 64 hexadecimal digits (the hex SHA-256 of the key)"}, *ke)
	assert.True(t, errors.Is(ke, auth.ErrInvalidKey))
}

func TestKeyRedaction(t *testing.T) {
	raw := auth.Key{ID: "alice", Key: aliceKey, Tenant: "acme"}
	digest := auth.Key{ID: "bob", SHA256: hexSHA256(bobKey), Tenant: "acme"}
	assert.Equal(t, `auth.Key{ID:"alice", Tenant:"acme", key:[REDACTED]}`, fmt.Sprintf("%+v", raw))
	assert.Equal(t, `auth.Key{ID:"bob", Tenant:"acme", sha256:[REDACTED]}`, fmt.Sprintf("%#v", digest))
	assert.Equal(t, `{"id":"alice","key":"[REDACTED]","tenant":"acme"}`, string(must(raw.MarshalJSON())))
	assert.Equal(t, raw.String(), raw.GoString())
	requireNoSecret(t, raw, aliceKey)
	requireNoSecret(t, &raw, aliceKey)
	requireNoSecret(t, []auth.Key{raw, digest}, aliceKey, digest.SHA256)
}

func TestKeyringRedaction(t *testing.T) {
	kr, err := auth.NewKeyring(testKeys())
	require.NoError(t, err)
	assert.Equal(t, "auth.Keyring{3 keys}", fmt.Sprintf("%+v", kr))
	for _, k := range []string{aliceKey, bobKey, carolKey} {
		sum := sha256.Sum256([]byte(k))
		for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%d", "%s"} {
			out := fmt.Sprintf(verb, kr)
			assert.NotContains(t, out, k)
			assert.NotContains(t, out, hex.EncodeToString(sum[:]))
			assert.NotContains(t, out, fmt.Sprint(sum[:4])[1:])
		}
	}
}

// BenchmarkAuthenticate shows that the time to authenticate depends on the keyring's size only, not
// on whether or which key matches.
func BenchmarkAuthenticate(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		keys := make([]auth.Key, n)
		for i := range keys {
			keys[i] = auth.Key{ID: fmt.Sprintf("k%d", i), Key: fmt.Sprintf("sk-bench-%032d", i), Tenant: "t"}
		}
		kr, err := auth.NewKeyring(keys)
		require.NoError(b, err)
		for _, c := range []struct{ name, key string }{
			{"first", keys[0].Key},
			{"last", keys[n-1].Key},
			{"none", fmt.Sprintf("sk-bench-%032d", n)},
		} {
			b.Run(fmt.Sprintf("keys=%d/match=%s", n, c.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					kr.Authenticate(c.key)
				}
			})
		}
	}
}
