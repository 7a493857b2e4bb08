package auth

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fuzz target's fixtures: the seeds under testdata/fuzz/FuzzVerify hold tokens minted with
// these secrets at this instant.
var (
	fuzzSecretNew = []byte("fuzz-stream-token-secret-new-0123456789")
	fuzzSecretOld = []byte("fuzz-stream-token-secret-old-0123456789")
	fuzzNow       = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// verifyErrors are all the errors Verify returns. It returns no other, so no message can carry
// any part of a token.
var verifyErrors = []error{
	errTokenOff, errTokenMalformed, errTokenAlg, errTokenSignature, errTokenExpired, errTokenNotYet,
	errTokenNoExp, errTokenNoIat, errTokenNoSub, errTokenNoTenant, errTokenBadTenant, errTokenScope,
	errTokenStream, errTokenLifetime, errTokenOther,
}

type mintedGrant struct {
	stream string
	grant  Grant
}

// fuzzTokens returns the Tokens under fuzz (new secret signing, old one still verifying) and
// every token Mint made with either secret, by token.
func fuzzTokens(t testing.TB) (*Tokens, map[string]mintedGrant) {
	now := func() time.Time { return fuzzNow }
	tk, err := NewTokens(TokenConfig{Secrets: [][]byte{fuzzSecretNew, fuzzSecretOld}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	old, err := NewTokens(TokenConfig{Secrets: [][]byte{fuzzSecretOld}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	minted := map[string]mintedGrant{}
	for _, m := range []struct {
		tk             *Tokens
		stream, tenant string
		ttl            time.Duration
	}{
		{tk, "s1", "acme", 0},
		{tk, "9f1c2b3a-0000-4000-8000-000000000001", "globex", 24 * time.Hour},
		{old, "s1", "acme", time.Minute},
	} {
		tok, exp, err := m.tk.Mint(m.stream, m.tenant, m.ttl)
		if err != nil {
			t.Fatal(err)
		}
		minted[tok] = mintedGrant{m.stream, Grant{Tenant: m.tenant, ExpiresAt: exp}}
	}
	return tk, minted
}

// FuzzVerify checks that Verify never panics, refuses with one of its fixed errors, and accepts
// only a token Mint made with one of the secrets, for the stream it was minted for, granting what
// it was minted with. Strict base64 matters here: without it, the last character of a signature
// could be changed and the token still accepted.
func FuzzVerify(f *testing.F) {
	tk, minted := fuzzTokens(f)
	for _, tok := range slices.Sorted(maps.Keys(minted)) {
		f.Add(tok, minted[tok].stream)
		f.Add(tok, "s2")
	}
	f.Fuzz(func(t *testing.T, token, stream string) {
		g, err := tk.Verify(token, stream)
		if err != nil {
			if !slices.Contains(verifyErrors, err) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify returned an error that is not one of its fixed ones: %v", err)
			}
			return
		}
		m, ok := minted[token]
		if !ok {
			t.Fatalf("Verify accepted a token Mint did not make: %q", token)
		}
		if m.stream != stream || g != m.grant {
			t.Fatalf("Verify(%q, %q) = %+v; it was minted for %q with %+v", token, stream, g, m.stream, m.grant)
		}
	})
}

// TestFuzzVerifySeedsAreMinted keeps the accepted seeds of FuzzVerify honest: they must be tokens
// Mint makes today, else the fuzz target would only ever see refusals.
func TestFuzzVerifySeedsAreMinted(t *testing.T) {
	tk, minted := fuzzTokens(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	for _, name := range []string{"minted", "minted-24h", "minted-old-secret"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 3 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a corpus file of two strings", name)
		}
		var args []string
		for _, l := range lines[1:] {
			s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(l, "string("), ")"))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			args = append(args, s)
		}
		m, ok := minted[args[0]]
		if !ok {
			t.Fatalf("%s: the seed token is no longer what Mint makes", name)
		}
		if g, err := tk.Verify(args[0], args[1]); err != nil || g != m.grant {
			t.Fatalf("%s: Verify = %+v, %v; want %+v", name, g, err, m.grant)
		}
	}
}
