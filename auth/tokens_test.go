package auth_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
)

var (
	secretA = []byte("stream-token-secret-A-0123456789abcdef")
	secretB = []byte("stream-token-secret-B-0123456789abcdef")
	// t0 is the clock of the token tests. Its fraction of a second checks that Mint rounds iat
	// down, as JWT times are whole seconds.
	t0 = time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	// t0s is t0 as a JWT time.
	t0s = t0.Truncate(time.Second)
)

// clock is a settable clock for TokenConfig.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// newTokens returns Tokens verifying with secrets (the first signs) on a clock set to t0.
func newTokens(t *testing.T, secrets ...[]byte) (*auth.Tokens, *clock) {
	t.Helper()
	c := &clock{now: t0}
	tk, err := auth.NewTokens(auth.TokenConfig{Secrets: secrets, Now: c.Now})
	require.NoError(t, err)
	return tk, c
}

// b64 is JWT's base64url without padding.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jsonSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b64(b)
}

// handToken builds a JWT by hand, without golang-jwt: header and claims as JSON, signed over
// "header.claims" with the algorithm named by sign ("HS256", "HS384", "HS512" with key, "RS256"
// with rsaKey, "" for no signature at all), whatever the header says.
func handToken(t *testing.T, header, claims map[string]any, sign string, key []byte) string {
	t.Helper()
	input := jsonSegment(t, header) + "." + jsonSegment(t, claims)
	return input + "." + b64(signature(t, sign, key, input))
}

func signature(t *testing.T, alg string, key []byte, input string) []byte {
	t.Helper()
	mac := func(h func() hash.Hash) []byte {
		m := hmac.New(h, key)
		m.Write([]byte(input))
		return m.Sum(nil)
	}
	switch alg {
	case "HS256":
		return mac(sha256.New)
	case "HS384":
		return mac(sha512.New384)
	case "HS512":
		return mac(sha512.New)
	case "RS256":
		digest := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey(t), crypto.SHA256, digest[:])
		require.NoError(t, err)
		return sig
	case "":
		return nil
	}
	t.Fatalf("no signer for %q", alg)
	return nil
}

var rsaKey = func() func(t *testing.T) *rsa.PrivateKey {
	var once sync.Once
	var key *rsa.PrivateKey
	var err error
	return func(t *testing.T) *rsa.PrivateKey {
		once.Do(func() { key, err = rsa.GenerateKey(rand.Reader, 2048) })
		require.NoError(t, err)
		return key
	}
}()

var hs256 = map[string]any{"alg": "HS256", "typ": "JWT"}

// goodClaims are the claims Mint writes for stream s1 of tenant acme at t0 with a 10 minute ttl.
func goodClaims() map[string]any {
	return map[string]any{
		"sub":    "s1",
		"tenant": "acme",
		"scope":  "read",
		"iat":    t0s.Unix(),
		"exp":    t0s.Add(10 * time.Minute).Unix(),
	}
}

// with returns goodClaims changed by edits: a nil value deletes the claim.
func with(edits map[string]any) map[string]any {
	c := goodClaims()
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestNewTokens(t *testing.T) {
	tests := []struct {
		name string
		cfg  auth.TokenConfig
		want string // the error; "" means valid
	}{
		{"defaults", auth.TokenConfig{Secrets: [][]byte{secretA}}, ""},
		{"rotation", auth.TokenConfig{Secrets: [][]byte{secretA, secretB}}, ""},
		{"exactly 32 bytes", auth.TokenConfig{Secrets: [][]byte{[]byte(strings.Repeat("k", 32))}}, ""},
		{"lifetimes", auth.TokenConfig{Secrets: [][]byte{secretA}, DefaultTTL: time.Minute, MaxTTL: time.Minute}, ""},
		{"no secret", auth.TokenConfig{}, "invalid credential config: stream tokens: at least one secret is required"},
		{"31 bytes", auth.TokenConfig{Secrets: [][]byte{[]byte(strings.Repeat("k", 31))}},
			"invalid credential config: stream tokens: secret[0] is shorter than 32 bytes"},
		{"old secret short", auth.TokenConfig{Secrets: [][]byte{secretA, []byte("short")}},
			"invalid credential config: stream tokens: secret[1] is shorter than 32 bytes"},
		{"empty secret", auth.TokenConfig{Secrets: [][]byte{nil}},
			"invalid credential config: stream tokens: secret[0] is shorter than 32 bytes"},
		{"negative default", auth.TokenConfig{Secrets: [][]byte{secretA}, DefaultTTL: -time.Second},
			"invalid credential config: stream tokens: DefaultTTL and MaxTTL must be at least 1s"},
		{"sub-second max", auth.TokenConfig{Secrets: [][]byte{secretA}, DefaultTTL: time.Millisecond, MaxTTL: time.Millisecond},
			"invalid credential config: stream tokens: DefaultTTL and MaxTTL must be at least 1s"},
		{"default above max", auth.TokenConfig{Secrets: [][]byte{secretA}, DefaultTTL: time.Hour, MaxTTL: time.Minute},
			"invalid credential config: stream tokens: DefaultTTL 1h0m0s is above MaxTTL 1m0s"},
		{"default above default max", auth.TokenConfig{Secrets: [][]byte{secretA}, DefaultTTL: 25 * time.Hour},
			"invalid credential config: stream tokens: DefaultTTL 25h0m0s is above MaxTTL 24h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := auth.NewTokens(tt.cfg)
			if tt.want == "" {
				require.NoError(t, err)
				require.NotNil(t, tk)
				return
			}
			require.EqualError(t, err, tt.want)
			require.ErrorIs(t, err, auth.ErrInvalidConfig)
			assert.Nil(t, tk)
		})
	}
}

func TestNewTokensCopiesSecrets(t *testing.T) {
	secret := append([]byte(nil), secretA...)
	tk, err := auth.NewTokens(auth.TokenConfig{Secrets: [][]byte{secret}, Now: func() time.Time { return t0 }})
	require.NoError(t, err)
	tok, _, err := tk.Mint("s1", "acme", 0)
	require.NoError(t, err)
	secret[0] ^= 0xff
	_, err = tk.Verify(tok, "s1")
	require.NoError(t, err, "changing the caller's slice must not change the secret")
}

// decodeSegment decodes one base64url JSON segment of a token into a map.
func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestMint(t *testing.T) {
	tk, _ := newTokens(t, secretA, secretB)
	tok, exp, err := tk.Mint("s1", "acme", 0)
	require.NoError(t, err)
	assert.Equal(t, t0s.Add(10*time.Minute), exp, "default ttl, from iat rounded down to the second")
	assert.Equal(t, time.UTC, exp.Location())

	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	assert.Equal(t, map[string]any{"alg": "HS256", "typ": "JWT"}, decodeSegment(t, parts[0]))
	assert.Equal(t, map[string]any{
		"sub":    "s1",
		"tenant": "acme",
		"scope":  "read",
		"iat":    float64(t0s.Unix()),
		"exp":    float64(exp.Unix()),
	}, decodeSegment(t, parts[1]), "exactly the documented claims")
	assert.Equal(t, b64(signature(t, "HS256", secretA, parts[0]+"."+parts[1])), parts[2],
		"HS256 with the first secret")

	g, err := tk.Verify(tok, "s1")
	require.NoError(t, err)
	assert.Equal(t, auth.Grant{Tenant: "acme", ExpiresAt: exp}, g)
}

func TestMintTTL(t *testing.T) {
	tk, _ := newTokens(t, secretA)
	tests := []struct {
		ttl     time.Duration
		want    time.Duration // exp - iat
		wantErr string
	}{
		{0, 10 * time.Minute, ""},
		{time.Second, time.Second, ""},
		{1500 * time.Millisecond, time.Second, ""},
		{time.Hour, time.Hour, ""},
		{24 * time.Hour, 24 * time.Hour, ""},
		{24*time.Hour + time.Second, 0, "invalid stream token lifetime: ttl 24h0m1s is longer than the maximum 24h0m0s"},
		{999 * time.Millisecond, 0, "invalid stream token lifetime: ttl 999ms is shorter than 1s"},
		{-time.Minute, 0, "invalid stream token lifetime: ttl -1m0s is shorter than 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.ttl.String(), func(t *testing.T) {
			tok, exp, err := tk.Mint("s1", "acme", tt.ttl)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.ErrorIs(t, err, auth.ErrInvalidTTL)
				assert.Empty(t, tok)
				assert.True(t, exp.IsZero())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, t0s.Add(tt.want), exp)
			claims := decodeSegment(t, strings.Split(tok, ".")[1])
			assert.Equal(t, float64(t0s.Unix()), claims["iat"])
			assert.Equal(t, float64(t0s.Add(tt.want).Unix()), claims["exp"])
			_, err = tk.Verify(tok, "s1")
			require.NoError(t, err, "a token of the longest lifetime is accepted")
		})
	}
}

func TestMintGrant(t *testing.T) {
	tk, _ := newTokens(t, secretA)
	tests := []struct {
		name, stream, tenant, want string
	}{
		{"empty stream", "", "acme", "invalid stream token grant: stream ID must be 1 to 128 bytes of printable ASCII without spaces"},
		{"stream with space", "s 1", "acme", "invalid stream token grant: stream ID must be 1 to 128 bytes of printable ASCII without spaces"},
		{"stream too long", strings.Repeat("s", 129), "acme", "invalid stream token grant: stream ID must be 1 to 128 bytes of printable ASCII without spaces"},
		{"open mode tenant", "s1", "", "invalid stream token grant: tenant: required"},
		{"bad tenant", "s1", "acme/eu", "invalid stream token grant: tenant: may contain only ASCII letters, digits and -_.:@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _, err := tk.Mint(tt.stream, tt.tenant, 0)
			require.EqualError(t, err, tt.want)
			require.ErrorIs(t, err, auth.ErrInvalidGrant)
			assert.Empty(t, tok)
		})
	}
	tok, _, err := tk.Mint(strings.Repeat("s", 128), "svc-1_a.b:c@d", 0)
	require.NoError(t, err)
	_, err = tk.Verify(tok, strings.Repeat("s", 128))
	require.NoError(t, err)
}

func TestVerify(t *testing.T) {
	tk, _ := newTokens(t, secretA, secretB)
	minted, exp, err := tk.Mint("s1", "acme", 0)
	require.NoError(t, err)
	good := handToken(t, hs256, goodClaims(), "HS256", secretA)
	parts := strings.Split(good, ".")
	head, body, sig := parts[0], parts[1], parts[2]

	// A signature with a changed first character, and one whose last character carries the same
	// bytes with its unused low bits set: lax base64 would decode it to the valid signature.
	flipped := map[byte]byte{'A': 'B'}[sig[0]]
	if flipped == 0 {
		flipped = 'A'
	}
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
	require.Zero(t, last&3, "an HS256 signature's last base64 character has two unused zero bits")
	laxSig := sig[:len(sig)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
	otherBody := jsonSegment(t, with(map[string]any{"tenant": "globex"}))

	const (
		malformed = "invalid stream token: malformed"
		alg       = "invalid stream token: algorithm not accepted (want HS256)"
		badSig    = "invalid stream token: signature does not match"
		scope     = `invalid stream token: scope claim is not "read"`
	)
	tests := []struct {
		name   string
		token  string
		stream string    // the stream verified for; "" means s1
		empty  bool      // verify for the stream "" instead
		want   string    // the error; "" means accepted
		exp    time.Time // the grant's expiry when accepted; zero means that of minted
	}{
		{name: "minted", token: minted},
		{name: "signed by the old secret", token: handToken(t, hs256, goodClaims(), "HS256", secretB)},
		{name: "unknown claims are ignored", token: handToken(t, hs256, with(map[string]any{"jti": "x", "aud": "y", "iss": "z"}), "HS256", secretA)},
		{name: "header without typ", token: handToken(t, map[string]any{"alg": "HS256"}, goodClaims(), "HS256", secretA)},
		{name: "lifetime exactly the maximum", token: handToken(t, hs256, with(map[string]any{"exp": t0s.Add(24 * time.Hour).Unix()}), "HS256", secretA),
			exp: t0s.Add(24 * time.Hour)},
		{name: "nbf passed", token: handToken(t, hs256, with(map[string]any{"nbf": t0s.Unix()}), "HS256", secretA)},

		{name: "another stream", token: minted, stream: "s2", want: "invalid stream token: granted for another stream"},
		{name: "empty stream", token: minted, empty: true, want: "invalid stream token: granted for another stream"},
		{name: "stream differs in case", token: minted, stream: "S1", want: "invalid stream token: granted for another stream"},
		{name: "expired", token: handToken(t, hs256, with(map[string]any{"iat": t0s.Add(-time.Minute).Unix(), "exp": t0s.Unix()}), "HS256", secretA),
			want: "invalid stream token: expired"},
		{name: "not valid yet", token: handToken(t, hs256, with(map[string]any{"nbf": t0s.Add(time.Second).Unix()}), "HS256", secretA),
			want: "invalid stream token: not valid yet (nbf)"},
		{name: "lifetime above the maximum", token: handToken(t, hs256, with(map[string]any{"exp": t0s.Add(24*time.Hour + time.Second).Unix()}), "HS256", secretA),
			want: "invalid stream token: lifetime (exp - iat) longer than the maximum"},

		{name: "tampered signature", token: head + "." + body + "." + string(flipped) + sig[1:], want: badSig},
		{name: "tampered claims", token: head + "." + otherBody + "." + sig, want: badSig},
		{name: "signature of another token", token: head + "." + body + "." + strings.Split(handToken(t, hs256, with(map[string]any{"sub": "s2"}), "HS256", secretA), ".")[2], want: badSig},
		{name: "unknown secret", token: handToken(t, hs256, goodClaims(), "HS256", []byte("stream-token-secret-C-0123456789abcdef")), want: badSig},
		{name: "empty signature", token: head + "." + body + ".", want: badSig},
		{name: "truncated signature", token: head + "." + body + "." + sig[:20], want: badSig},
		{name: "signature with unused bits set", token: head + "." + body + "." + laxSig, want: malformed},
		{name: "signature padded", token: head + "." + body + "." + sig + "=", want: malformed},
		{name: "newline in signature", token: head + "." + body + "." + sig[:10] + "\n" + sig[10:], want: malformed},
		{name: "CR LF at the end", token: good + "\r\n", want: malformed},

		{name: "HS384 re-signed with the secret", token: handToken(t, map[string]any{"alg": "HS384", "typ": "JWT"}, goodClaims(), "HS384", secretA), want: alg},
		{name: "HS512 re-signed with the secret", token: handToken(t, map[string]any{"alg": "HS512", "typ": "JWT"}, goodClaims(), "HS512", secretA), want: alg},
		{name: "RS256", token: handToken(t, map[string]any{"alg": "RS256", "typ": "JWT"}, goodClaims(), "RS256", nil), want: alg},
		{name: "RS256 header over an HMAC of the secret", token: handToken(t, map[string]any{"alg": "RS256", "typ": "JWT"}, goodClaims(), "HS256", secretA), want: alg},
		{name: "HS384 header over an HS256 signature", token: handToken(t, map[string]any{"alg": "HS384"}, goodClaims(), "HS256", secretA), want: alg},
		{name: "alg none unsigned", token: handToken(t, map[string]any{"alg": "none", "typ": "JWT"}, goodClaims(), "", nil), want: alg},
		{name: "alg none with an HS256 signature", token: handToken(t, map[string]any{"alg": "none"}, goodClaims(), "HS256", secretA), want: alg},
		{name: "alg None", token: handToken(t, map[string]any{"alg": "None"}, goodClaims(), "", nil), want: alg},
		{name: "alg hs256", token: handToken(t, map[string]any{"alg": "hs256"}, goodClaims(), "HS256", secretA), want: alg},
		{name: "alg missing", token: handToken(t, map[string]any{"typ": "JWT"}, goodClaims(), "HS256", secretA), want: alg},
		{name: "alg not a string", token: handToken(t, map[string]any{"alg": 256}, goodClaims(), "HS256", secretA), want: alg},

		{name: "scope missing", token: handToken(t, hs256, with(map[string]any{"scope": nil}), "HS256", secretA), want: scope},
		{name: "scope write", token: handToken(t, hs256, with(map[string]any{"scope": "write"}), "HS256", secretA), want: scope},
		{name: "scope read write", token: handToken(t, hs256, with(map[string]any{"scope": "read write"}), "HS256", secretA), want: scope},
		{name: "scope Read", token: handToken(t, hs256, with(map[string]any{"scope": "Read"}), "HS256", secretA), want: scope},
		{name: "scope a list", token: handToken(t, hs256, with(map[string]any{"scope": []string{"read"}}), "HS256", secretA), want: malformed},
		{name: "sub missing", token: handToken(t, hs256, with(map[string]any{"sub": nil}), "HS256", secretA), want: "invalid stream token: no sub claim"},
		{name: "sub empty", token: handToken(t, hs256, with(map[string]any{"sub": ""}), "HS256", secretA), empty: true, want: "invalid stream token: no sub claim"},
		{name: "tenant missing", token: handToken(t, hs256, with(map[string]any{"tenant": nil}), "HS256", secretA), want: "invalid stream token: no tenant claim"},
		{name: "tenant empty", token: handToken(t, hs256, with(map[string]any{"tenant": ""}), "HS256", secretA), want: "invalid stream token: no tenant claim"},
		{name: "tenant invalid", token: handToken(t, hs256, with(map[string]any{"tenant": "acme/eu"}), "HS256", secretA), want: "invalid stream token: tenant claim is not a valid tenant name"},
		{name: "tenant a number", token: handToken(t, hs256, with(map[string]any{"tenant": 7}), "HS256", secretA), want: malformed},
		{name: "exp missing", token: handToken(t, hs256, with(map[string]any{"exp": nil}), "HS256", secretA), want: "invalid stream token: no exp claim"},
		{name: "exp a string", token: handToken(t, hs256, with(map[string]any{"exp": "2030-01-02"}), "HS256", secretA), want: malformed},
		{name: "iat missing", token: handToken(t, hs256, with(map[string]any{"iat": nil}), "HS256", secretA), want: "invalid stream token: no iat claim"},

		{name: "empty", token: "", want: malformed},
		{name: "one segment", token: "garbage", want: malformed},
		{name: "two segments", token: head + "." + body, want: malformed},
		{name: "four segments", token: good + "." + sig, want: malformed},
		{name: "dots only", token: "..", want: malformed},
		{name: "header not base64", token: "!!." + body + "." + sig, want: malformed},
		{name: "header not JSON", token: b64([]byte("alg=HS256")) + "." + body + "." + sig, want: malformed},
		{name: "claims not an object", token: head + "." + b64([]byte(`"s1"`)) + "." + sig, want: malformed},
		{name: "claims truncated JSON", token: head + "." + b64([]byte(`{"sub":"s1"`)) + "." + sig, want: malformed},
		{name: "longer than 4 KiB", token: handToken(t, hs256, with(map[string]any{"pad": strings.Repeat("x", 4096)}), "HS256", secretA), want: malformed},
		{name: "bearer prefix kept", token: "Bearer " + good, want: malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := tt.stream
			if stream == "" && !tt.empty {
				stream = "s1"
			}
			g, err := tk.Verify(tt.token, stream)
			if tt.want == "" {
				require.NoError(t, err)
				want := auth.Grant{Tenant: "acme", ExpiresAt: tt.exp}
				if tt.exp.IsZero() {
					want.ExpiresAt = exp
				}
				assert.Equal(t, want, g)
				return
			}
			require.EqualError(t, err, tt.want)
			require.ErrorIs(t, err, auth.ErrInvalidToken)
			assert.Equal(t, auth.Grant{}, g)
		})
	}
}

func TestVerifyExpiryUsesTheClock(t *testing.T) {
	tk, c := newTokens(t, secretA)
	tok, exp, err := tk.Mint("s1", "acme", time.Minute)
	require.NoError(t, err)
	require.Equal(t, t0s.Add(time.Minute), exp)

	c.Set(exp.Add(-time.Nanosecond))
	_, err = tk.Verify(tok, "s1")
	require.NoError(t, err, "valid until the instant exp is reached")

	c.Set(exp)
	_, err = tk.Verify(tok, "s1")
	require.EqualError(t, err, "invalid stream token: expired", "no leeway")

	c.Set(t0s.Add(-time.Hour))
	_, err = tk.Verify(tok, "s1")
	require.NoError(t, err, "iat is not compared with the clock: a replica whose clock is behind accepts it")
}

func TestVerifyRotation(t *testing.T) {
	oldOnly, _ := newTokens(t, secretB)
	newOnly, _ := newTokens(t, secretA)
	rotating, _ := newTokens(t, secretA, secretB)
	mint := func(tk *auth.Tokens) string {
		tok, _, err := tk.Mint("s1", "acme", 0)
		require.NoError(t, err)
		return tok
	}
	fromOld, fromNew, fromRotating := mint(oldOnly), mint(newOnly), mint(rotating)
	assert.Equal(t, fromNew, fromRotating, "the first secret signs")

	for _, tok := range []string{fromOld, fromNew} {
		_, err := rotating.Verify(tok, "s1")
		require.NoError(t, err, "every secret of the list verifies")
	}
	_, err := newOnly.Verify(fromOld, "s1")
	require.EqualError(t, err, "invalid stream token: signature does not match", "a dropped secret verifies no more")
	_, err = oldOnly.Verify(fromRotating, "s1")
	require.EqualError(t, err, "invalid stream token: signature does not match")
}

func TestTokensOff(t *testing.T) {
	var off *auth.Tokens
	tok, exp, err := off.Mint("s1", "acme", 0)
	require.ErrorIs(t, err, auth.ErrTokensOff)
	assert.EqualError(t, err, "stream tokens are not configured: set auth.token_secret")
	assert.Empty(t, tok)
	assert.True(t, exp.IsZero())

	on, _ := newTokens(t, secretA)
	tok, _, err = on.Mint("s1", "acme", 0)
	require.NoError(t, err)
	_, err = off.Verify(tok, "s1")
	require.ErrorIs(t, err, auth.ErrInvalidToken)
	require.ErrorIs(t, err, auth.ErrTokensOff)
	assert.Equal(t, "auth.Tokens{off}", off.String())
}

func TestTokensNeverPrintSecrets(t *testing.T) {
	cfg := auth.TokenConfig{Secrets: [][]byte{secretA, secretB}, DefaultTTL: time.Minute}
	tk, err := auth.NewTokens(cfg)
	require.NoError(t, err)
	for _, v := range []any{cfg, &cfg, tk} {
		requireNoSecret(t, v, string(secretA), string(secretB), hex.EncodeToString(secretA), hex.EncodeToString(secretB), "stream-token")
	}
	assert.Equal(t, "auth.Tokens{2 secrets, DefaultTTL:1m0s, MaxTTL:24h0m0s}", tk.String())
	assert.Equal(t, "auth.TokenConfig{Secrets:2x[REDACTED], DefaultTTL:1m0s, MaxTTL:0s}", cfg.String())

	_, err = auth.NewTokens(auth.TokenConfig{Secrets: [][]byte{secretA, []byte("stream-token-short")}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "stream-token")
}
