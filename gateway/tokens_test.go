package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
)

var (
	tokenSecret    = []byte("gateway-test-token-secret-0123456789")
	tokenSecretOld = []byte("gateway-test-token-secret-old-012345")
	tokenSecretBad = []byte("not-the-gateway-token-secret-0123456")
	// tokenT0 is the token clock's start; its fraction checks that expires_at is whole seconds.
	tokenT0 = time.Date(2030, 1, 2, 3, 4, 5, 250_000_000, time.UTC)
)

// tokenClock is a settable clock for auth.TokenConfig.Now.
type tokenClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *tokenClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *tokenClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// newTokens builds stream tokens on clock with secrets (the first signs).
func newTokens(t testing.TB, clock *tokenClock, secrets ...[]byte) *auth.Tokens {
	t.Helper()
	tk, err := auth.NewTokens(auth.TokenConfig{Secrets: secrets, Now: clock.Now})
	require.NoError(t, err)
	return tk
}

// withTokens is an env whose gateway verifies tokens with these secrets on clock.
func withTokens(t testing.TB, clock *tokenClock, secrets ...[]byte) options {
	tk := newTokens(t, clock, secrets...)
	return options{gateway: func(c *gateway.Config) { c.Tokens = tk }}
}

// mint asks the gateway for a token and requires a 201.
func (e *env) mint(key, id, body string) (token string, expiresAt time.Time) {
	e.t.Helper()
	resp := e.request("POST", "/v1/streams/"+id+"/tokens", key, body)
	b := readAllTB(e.t, resp)
	require.Equal(e.t, http.StatusCreated, resp.StatusCode, string(b))
	assert.Equal(e.t, "no-store", resp.Header.Get("Cache-Control"), "a token is a credential")
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	require.NoError(e.t, json.Unmarshal(b, &out), string(b))
	require.NotEmpty(e.t, out.Token)
	return out.Token, out.ExpiresAt
}

func readAllTB(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// reply is a status and body, to compare a refusal with a wrong key's.
type reply struct {
	status int
	body   string
}

// wrongKeyAnswer is what a wrong key is answered with on a route: what every refused token must
// get too.
func (e *env) wrongKeyAnswer(method, path string) reply {
	e.t.Helper()
	status, body := e.do(method, path, "not-a-key-0123456789", nil)
	require.Equal(e.t, http.StatusUnauthorized, status, string(body))
	return reply{status, string(body)}
}

func TestTokenMint(t *testing.T) {
	clock := &tokenClock{now: tokenT0}
	e := newEnv(t, withTokens(t, clock, tokenSecret))
	id := e.createStream(aliceKey, map[string]any{"id": "mint-1"})
	verifier := newTokens(t, clock, tokenSecret)

	for _, tc := range []struct {
		name string
		body string
		ttl  time.Duration
	}{
		{"no body is the default", "", 10 * time.Minute},
		{"empty object is the default", "{}", 10 * time.Minute},
		{"empty ttl is the default", `{"ttl":""}`, 10 * time.Minute},
		{"an hour", `{"ttl":"1h"}`, time.Hour},
		{"rounded down to seconds", `{"ttl":"90.9s"}`, 90 * time.Second},
		{"the longest", `{"ttl":"24h"}`, 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, exp := e.mint(aliceKey, id, tc.body)
			assert.Equal(t, tokenT0.Truncate(time.Second).Add(tc.ttl), exp)
			g, err := verifier.Verify(token, id)
			require.NoError(t, err)
			assert.Equal(t, auth.Grant{Tenant: "acme", ExpiresAt: exp}, g)
		})
	}

	// carol shares alice's tenant, so the stream is hers to share too.
	token, _ := e.mint(carolKey, id, "")
	_, err := verifier.Verify(token, id)
	require.NoError(t, err)

	for _, tc := range []struct {
		name, key, id, body string
		code                int
		status, msg         string
	}{
		{"another tenant's stream", bobKey, id, "", 404, "NOT_FOUND", `stream "mint-1" not found`},
		{"unknown stream", aliceKey, "nope", "", 404, "NOT_FOUND", `stream "nope" not found`},
		{"ttl not a duration", aliceKey, id, `{"ttl":"ten minutes"}`, 400, "INVALID_ARGUMENT", `ttl must be a duration such as "10m", got "ten minutes"`},
		{"ttl below a second", aliceKey, id, `{"ttl":"500ms"}`, 400, "INVALID_ARGUMENT", "invalid stream token lifetime: ttl 500ms is shorter than 1s"},
		{"ttl above the maximum", aliceKey, id, `{"ttl":"25h"}`, 400, "INVALID_ARGUMENT", "invalid stream token lifetime: ttl 25h0m0s is longer than the maximum 24h0m0s"},
		{"ttl not a string", aliceKey, id, `{"ttl":600}`, 400, "INVALID_ARGUMENT", ""},
		{"unknown field", aliceKey, id, `{"tll":"1m"}`, 400, "INVALID_ARGUMENT", ""},
		{"no key", "", id, "", 401, "UNAUTHENTICATED", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("POST", "/v1/streams/"+tc.id+"/tokens", tc.key, tc.body)
			se := requireError(t, tc.code, tc.status, status, body)
			if tc.msg != "" {
				assert.Equal(t, tc.msg, se.Message)
			}
		})
	}

	t.Run("a token cannot mint", func(t *testing.T) {
		token, _ := e.mint(aliceKey, id, "")
		want := e.wrongKeyAnswer("POST", "/v1/streams/"+id+"/tokens")
		for name, req := range map[string]func() (int, []byte){
			"query": func() (int, []byte) { return e.do("POST", "/v1/streams/"+id+"/tokens?token="+token, "", nil) },
			"bearer": func() (int, []byte) {
				return e.do("POST", "/v1/streams/"+id+"/tokens", "", nil, "Authorization", "Bearer "+token)
			},
		} {
			status, body := req()
			assert.Equal(t, want, reply{status, string(body)}, name)
		}
	})
	assert.NotContains(t, e.logs.String(), "eyJ", "no token is logged")
}

func TestTokenRouteOff(t *testing.T) {
	t.Run("no token secret", func(t *testing.T) {
		e := newEnv(t, options{})
		id := e.createStream(aliceKey, map[string]any{})
		status, body := e.do("POST", "/v1/streams/"+id+"/tokens", aliceKey, `{"ttl":"1m"}`)
		se := requireError(t, http.StatusNotImplemented, "UNIMPLEMENTED", status, body)
		assert.Equal(t, auth.ErrTokensOff.Error(), se.Message)
		assert.Equal(t, "stream tokens are not configured: set auth.token_secret", se.Message)

		// A token (here minted elsewhere) opens nothing.
		token, _, err := newTokens(t, &tokenClock{now: time.Now()}, tokenSecret).Mint(id, "acme", time.Minute)
		require.NoError(t, err)
		want := e.wrongKeyAnswer("GET", "/v1/streams/"+id)
		status, body = e.do("GET", "/v1/streams/"+id+"?token="+token, "", nil)
		assert.Equal(t, want, reply{status, string(body)})
	})
	t.Run("open mode", func(t *testing.T) {
		clock := &tokenClock{now: time.Now()}
		o := withTokens(t, clock, tokenSecret)
		o.open = true
		e := newEnv(t, o)
		id := e.createStream("", map[string]any{})
		status, body := e.do("POST", "/v1/streams/"+id+"/tokens", "", `{"ttl":"1m"}`)
		se := requireError(t, http.StatusNotImplemented, "UNIMPLEMENTED", status, body)
		assert.Contains(t, se.Message, "stream tokens need client keys")
	})
}

// Every rule of a token on the read routes, over real loopback: accepted for its stream as
// ?token= or Bearer, refused exactly like a wrong key everywhere else.
func TestTokenRead(t *testing.T) {
	clock := &tokenClock{now: time.Now()}
	e := newEnv(t, withTokens(t, clock, tokenSecret))
	a := e.createStream(aliceKey, map[string]any{"id": "stream-a"})
	b := e.createStream(aliceKey, map[string]any{"id": "stream-b"})
	bobs := e.createStream(bobKey, map[string]any{"id": "stream-bob"})
	e.push(aliceKey, a, "one", "")
	tokenA, exp := e.mint(aliceKey, a, `{"ttl":"1m"}`)

	t.Run("info as ?token=", func(t *testing.T) {
		status, body := e.do("GET", "/v1/streams/"+a+"?token="+url.QueryEscape(tokenA), "", nil)
		require.Equal(t, http.StatusOK, status, string(body))
		assert.Contains(t, string(body), `"id":"stream-a"`)
	})
	t.Run("info as Bearer", func(t *testing.T) {
		status, body := e.do("GET", "/v1/streams/"+a, "", nil, "Authorization", "Bearer "+tokenA)
		require.Equal(t, http.StatusOK, status, string(body))
		assert.Contains(t, string(body), `"id":"stream-a"`)
	})
	t.Run("events as ?token=", func(t *testing.T) {
		r := e.subscribe("", a, "?token="+tokenA)
		defer r.close()
		assert.Equal(t, event{ID: "1", Type: "message", Data: `"one"`}, r.next())
	})
	t.Run("events as Bearer, resumed", func(t *testing.T) {
		e.push(aliceKey, a, "two", "")
		r := e.subscribe("", a, "?after=1", "Authorization", "Bearer "+tokenA)
		defer r.close()
		assert.Equal(t, event{ID: "2", Type: "message", Data: `"two"`}, r.next())
	})

	// The tenant acme minted offline with the right secret, for a stream of globex.
	otherTenant, _, err := newTokens(t, clock, tokenSecret).Mint(bobs, "acme", time.Minute)
	require.NoError(t, err)
	forged := func(method jwt.SigningMethod, key any) string {
		claims := jwt.MapClaims{"sub": a, "tenant": "acme", "scope": "read",
			"iat": clock.Now().Unix(), "exp": clock.Now().Add(time.Minute).Unix()}
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		require.NoError(t, err)
		return s
	}
	parts := strings.Split(tokenA, ".")
	tamperedClaims, err := json.Marshal(map[string]any{"sub": b, "tenant": "acme", "scope": "read",
		"iat": clock.Now().Unix(), "exp": exp.Unix()})
	require.NoError(t, err)
	for _, tc := range []struct {
		name, method, path, token string
		bearer                    bool
	}{
		{name: "stream A's token on stream B", method: "GET", path: "/v1/streams/" + b, token: tokenA},
		{name: "stream A's token on stream B's events", method: "GET", path: "/v1/streams/" + b + "/events", token: tokenA, bearer: true},
		{name: "tenant acme's token on globex's stream", method: "GET", path: "/v1/streams/" + bobs + "/events", token: otherTenant},
		{name: "alg none", method: "GET", path: "/v1/streams/" + a, token: forged(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)},
		{name: "alg none as Bearer", method: "GET", path: "/v1/streams/" + a + "/events", token: forged(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), bearer: true},
		{name: "HS512 with the secret", method: "GET", path: "/v1/streams/" + a, token: forged(jwt.SigningMethodHS512, tokenSecret)},
		{name: "HS256 with another secret", method: "GET", path: "/v1/streams/" + a, token: forged(jwt.SigningMethodHS256, tokenSecretBad)},
		{name: "claims tampered to stream B", method: "GET", path: "/v1/streams/" + b, token: parts[0] + "." + b64url(tamperedClaims) + "." + parts[2]},
		{name: "signature tampered", method: "GET", path: "/v1/streams/" + a, token: parts[0] + "." + parts[1] + "." + flipLast(parts[2])},
		{name: "garbage", method: "GET", path: "/v1/streams/" + a, token: "not.a.token"},
		{name: "list", method: "GET", path: "/v1/streams", token: tokenA},
		{name: "watch", method: "GET", path: "/v1/streams?watch=true", token: tokenA, bearer: true},
		{name: "delete", method: "DELETE", path: "/v1/streams/" + a, token: tokenA},
		{name: "push", method: "POST", path: "/v1/streams/" + a + "/chunks", token: tokenA, bearer: true},
		{name: "error", method: "POST", path: "/v1/streams/" + a + "/error", token: tokenA},
		{name: "create", method: "POST", path: "/v1/streams", token: tokenA, bearer: true},
		{name: "subscriptions", method: "POST", path: "/v1/streams/" + a + "/subscriptions", token: tokenA},
		{name: "gemini", method: "POST", path: strings.TrimSuffix(streamPath, "?alt=sse"), token: tokenA, bearer: true},
		{name: "status", method: "GET", path: "/v1/status", token: tokenA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := e.wrongKeyAnswer(tc.method, tc.path)
			var status int
			var body []byte
			if tc.bearer {
				status, body = e.do(tc.method, tc.path, "", nil, "Authorization", "Bearer "+tc.token)
			} else {
				sep := "?"
				if strings.Contains(tc.path, "?") {
					sep = "&"
				}
				status, body = e.do(tc.method, tc.path+sep+"token="+url.QueryEscape(tc.token), "", nil)
			}
			assert.Equal(t, want, reply{status, string(body)}, "refused exactly like a wrong key")
		})
	}

	t.Run("a token and a key", func(t *testing.T) {
		status, body := e.do("GET", "/v1/streams/"+a+"?token="+tokenA, aliceKey, nil)
		requireError(t, http.StatusUnauthorized, "UNAUTHENTICATED", status, body)
	})

	t.Run("expiry", func(t *testing.T) {
		// exp is the second the token dies: valid a second before, refused from it on.
		clock.Set(exp.Add(-time.Second))
		status, body := e.do("GET", "/v1/streams/"+a+"?token="+tokenA, "", nil)
		require.Equal(t, http.StatusOK, status, string(body))
		want := e.wrongKeyAnswer("GET", "/v1/streams/"+a)
		for _, at := range []time.Time{exp, exp.Add(time.Hour)} {
			clock.Set(at)
			status, body = e.do("GET", "/v1/streams/"+a+"?token="+tokenA, "", nil)
			assert.Equal(t, want, reply{status, string(body)}, "at %s", at)
			status, body = e.do("GET", "/v1/streams/"+a+"/events", "", nil, "Authorization", "Bearer "+tokenA)
			assert.Equal(t, want, reply{status, string(body)}, "at %s", at)
		}
	})
	logs := e.logs.String()
	assert.NotContains(t, logs, tokenA, "no token is logged")
	assert.NotContains(t, logs, otherTenant, "no token is logged")
	assert.Contains(t, logs, "granted for another stream", "the reason of a refusal is logged")
}

// A token stays good through a rotation: the old secret, listed after the new one, still
// verifies; once it is removed, its tokens are refused.
func TestTokenRotation(t *testing.T) {
	clock := &tokenClock{now: time.Now()}
	oldTokens := newTokens(t, clock, tokenSecretOld)
	rotating := newEnv(t, withTokens(t, clock, tokenSecret, tokenSecretOld))
	id := rotating.createStream(aliceKey, map[string]any{"id": "rotated"})
	old, _, err := oldTokens.Mint(id, "acme", time.Minute)
	require.NoError(t, err)
	status, body := rotating.do("GET", "/v1/streams/"+id+"?token="+old, "", nil)
	require.Equal(t, http.StatusOK, status, string(body))

	// The gateway signs with the first secret.
	minted, _ := rotating.mint(aliceKey, id, "")
	_, err = newTokens(t, clock, tokenSecret).Verify(minted, id)
	require.NoError(t, err)
	_, err = oldTokens.Verify(minted, id)
	require.ErrorIs(t, err, auth.ErrInvalidToken)

	rotated := newEnv(t, withTokens(t, clock, tokenSecret))
	id2 := rotated.createStream(aliceKey, map[string]any{"id": "rotated"})
	old, _, err = oldTokens.Mint(id2, "acme", time.Minute)
	require.NoError(t, err)
	want := rotated.wrongKeyAnswer("GET", "/v1/streams/"+id2)
	status, body = rotated.do("GET", "/v1/streams/"+id2+"?token="+old, "", nil)
	assert.Equal(t, want, reply{status, string(body)})
	status, body = rotated.do("GET", "/v1/streams/"+id2+"?token="+minted, "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
}

// A token is refused once its stream's ID belongs to another tenant: the stream it was minted
// for was forgotten and bob created one with the same ID.
func TestTokenStreamReused(t *testing.T) {
	clock := &tokenClock{now: time.Now()}
	o := withTokens(t, clock, tokenSecret)
	o.manager = func(c *manager.Config) { c.MaxRetained = 1 }
	e := newEnv(t, o)
	id := e.createStream(aliceKey, map[string]any{"id": "reused"})
	token, _ := e.mint(aliceKey, id, "")
	status, body := e.do("DELETE", "/v1/streams/"+id, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	// Closing a second stream pushes the first out of the retained ones.
	other := e.createStream(aliceKey, map[string]any{})
	status, body = e.do("DELETE", "/v1/streams/"+other, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	status, body = e.do("GET", "/v1/streams/"+id+"?token="+token, "", nil)
	requireError(t, http.StatusNotFound, "NOT_FOUND", status, body)

	e.createStream(bobKey, map[string]any{"id": "reused"})
	want := e.wrongKeyAnswer("GET", "/v1/streams/"+id)
	status, body = e.do("GET", "/v1/streams/"+id+"?token="+token, "", nil)
	assert.Equal(t, want, reply{status, string(body)})
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// flipLast changes the last character of a base64url segment to another valid one.
func flipLast(s string) string {
	c := s[len(s)-1]
	r := byte('A')
	if c == 'A' {
		r = 'Q'
	}
	return s[:len(s)-1] + string(r)
}
