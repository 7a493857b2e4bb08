package auth_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
)

func TestKeyFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		header  http.Header
		query   string
		want    string
		wantErr error
	}{
		{name: "x-goog-api-key", header: http.Header{"X-Goog-Api-Key": {"k1"}}, want: "k1"},
		{name: "bearer", header: http.Header{"Authorization": {"Bearer k1"}}, want: "k1"},
		{name: "bearer scheme in any case", header: http.Header{"Authorization": {"bEARER k1"}}, want: "k1"},
		{name: "bearer with extra spaces", header: http.Header{"Authorization": {"Bearer   k1 "}}, want: "k1"},
		{name: "query", query: "alt=sse&key=k1", want: "k1"},
		{name: "query escaped", query: "key=k%2B1", want: "k+1"},
		{name: "query with the name percent-encoded", query: "alt=sse&%6Bey=k1", want: "k1"},
		{name: "same key in all three places", header: http.Header{
			"X-Goog-Api-Key": {"k1"}, "Authorization": {"Bearer k1"}}, query: "key=k1", want: "k1"},
		{name: "same key twice in a header", header: http.Header{"X-Goog-Api-Key": {"k1", "k1"}}, want: "k1"},
		{name: "empty values count as absent", header: http.Header{
			"X-Goog-Api-Key": {""}, "Authorization": {""}}, query: "key=&key=k1", want: "k1"},
		{name: "nothing", wantErr: auth.ErrNoKey},
		{name: "only empty values", header: http.Header{"X-Goog-Api-Key": {""}}, query: "key=", wantErr: auth.ErrNoKey},
		{name: "other query parameters only", query: "alt=sse&apikey=k1", wantErr: auth.ErrNoKey},
		{name: "header and bearer differ", header: http.Header{
			"X-Goog-Api-Key": {"k1"}, "Authorization": {"Bearer k2"}}, wantErr: auth.ErrAmbiguousKey},
		{name: "header and query differ", header: http.Header{"X-Goog-Api-Key": {"k1"}}, query: "key=k2",
			wantErr: auth.ErrAmbiguousKey},
		{name: "bearer and query differ", header: http.Header{"Authorization": {"Bearer k1"}}, query: "key=k2",
			wantErr: auth.ErrAmbiguousKey},
		{name: "two header values differ", header: http.Header{"X-Goog-Api-Key": {"k1", "k2"}},
			wantErr: auth.ErrAmbiguousKey},
		{name: "two query values differ", query: "key=k1&key=k2", wantErr: auth.ErrAmbiguousKey},
		{name: "two bearer headers differ", header: http.Header{"Authorization": {"Bearer k1", "Bearer k2"}},
			wantErr: auth.ErrAmbiguousKey},
		{name: "basic auth", header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}},
			wantErr: auth.ErrMalformedAuthorization},
		{name: "basic auth beside a valid key", header: http.Header{
			"X-Goog-Api-Key": {"k1"}, "Authorization": {"Basic dXNlcjpwYXNz"}}, wantErr: auth.ErrMalformedAuthorization},
		{name: "bearer without token", header: http.Header{"Authorization": {"Bearer"}},
			wantErr: auth.ErrMalformedAuthorization},
		{name: "bearer with blank token", header: http.Header{"Authorization": {"Bearer   "}},
			wantErr: auth.ErrMalformedAuthorization},
		{name: "bearer with two tokens", header: http.Header{"Authorization": {"Bearer k1 k2"}},
			wantErr: auth.ErrMalformedAuthorization},
		{name: "bare token", header: http.Header{"Authorization": {"k1"}},
			wantErr: auth.ErrMalformedAuthorization},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{Header: tt.header, URL: &url.URL{Path: "/", RawQuery: tt.query}}
			if r.Header == nil {
				r.Header = http.Header{}
			}
			got, err := auth.KeyFromRequest(r)
			assert.Equal(t, tt.want, got)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			for _, k := range []string{"k1", "k2", "dXNlcjpwYXNz"} {
				assert.NotContains(t, err.Error(), k)
			}
		})
	}
}

func TestKeyFromNilRequest(t *testing.T) {
	_, err := auth.KeyFromRequest(nil)
	require.ErrorIs(t, err, auth.ErrNoKey)
}

// TestAuthenticateRequestOverHTTP authenticates real requests on loopback, presented the ways the
// Gemini SDKs, curl and a browser EventSource present keys.
func TestAuthenticateRequestOverHTTP(t *testing.T) {
	kr, err := auth.NewKeyring(testKeys())
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := kr.AuthenticateRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, id.Tenant+"/"+id.KeyID)
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name     string
		header   http.Header
		query    string
		wantCode int
		wantBody string
	}{
		{"sdk header", http.Header{"x-goog-api-key": {aliceKey}}, "", 200, "acme/alice"},
		{"bearer", http.Header{"Authorization": {"Bearer " + bobKey}}, "", 200, "acme/bob"},
		{"eventsource query", nil, "key=" + url.QueryEscape(carolKey), 200, "globex/carol"},
		{"rest query beside alt=sse", nil, "alt=sse&key=" + aliceKey, 200, "acme/alice"},
		{"no key", nil, "", 401, "no API key presented\n"},
		{"unknown key", http.Header{"x-goog-api-key": {"sk-mallory"}}, "", 401, "API key not valid\n"},
		{"two valid keys", http.Header{"x-goog-api-key": {aliceKey}}, "key=" + bobKey, 401,
			"different API keys presented in one request\n"},
		{"basic auth", http.Header{"Authorization": {"Basic YWxpY2U6cHc="}}, "", 401,
			"authorization header is not a Bearer token\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v1/streams?"+tt.query, nil)
			require.NoError(t, err)
			for k, vs := range tt.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.wantCode, resp.StatusCode)
			assert.Equal(t, tt.wantBody, string(body))
		})
	}
}

func TestAuthenticateRequestEmptyKeyring(t *testing.T) {
	kr, err := auth.NewKeyring(nil)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/?key=anything", nil)
	_, err = kr.AuthenticateRequest(r)
	require.ErrorIs(t, err, auth.ErrUnknownKey)
}

func TestStripKey(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/v1/streams/abc/events?key=sk-secret&after=3&key=sk-other&token=a.b.c", nil)
	r.Header.Set("X-Goog-Api-Key", "sk-secret")
	r.Header.Set("Authorization", "Bearer sk-secret")
	r.Header.Set("Last-Event-Id", "7")
	auth.StripKey(r)
	assert.Equal(t, "after=3", r.URL.RawQuery)
	assert.Equal(t, "/v1/streams/abc/events?after=3", r.RequestURI)
	assert.Equal(t, http.Header{"Last-Event-Id": {"7"}}, r.Header)
	_, err := auth.KeyFromRequest(r)
	assert.ErrorIs(t, err, auth.ErrNoKey)
	tok, err := auth.TokenFromRequest(r)
	require.NoError(t, err)
	assert.Empty(t, tok)

	onlyToken := httptest.NewRequest(http.MethodGet, "/v1/streams/abc/events?token=a.b.c", nil)
	auth.StripKey(onlyToken)
	assert.Equal(t, "", onlyToken.URL.RawQuery)
	assert.Equal(t, "/v1/streams/abc/events", onlyToken.RequestURI)

	encoded := httptest.NewRequest(http.MethodGet, "/v1/streams/abc/events?%6Bey=sk-secret&after=3", nil)
	auth.StripKey(encoded)
	assert.Equal(t, "after=3", encoded.URL.RawQuery, "a key named in percent-encoding is stripped too")

	untouched := httptest.NewRequest(http.MethodGet, "/x?b=2&a=1", nil)
	auth.StripKey(untouched)
	assert.Equal(t, "b=2&a=1", untouched.URL.RawQuery, "a query without key is left as it was")
	auth.StripKey(nil)
}

// FuzzKeyFromRequest checks that any header and query content gives either an error or a non-empty
// key that the request actually carries.
func FuzzKeyFromRequest(f *testing.F) {
	f.Add("k1", "Bearer k1", "key=k1")
	f.Add("", "Bearer", "")
	f.Add("k1", "", "key=k2")
	f.Add("", "bearer  x\ty", "key=%zz&key=a")
	f.Fuzz(func(t *testing.T, apiKey, authorization, query string) {
		r := &http.Request{
			Header: http.Header{"X-Goog-Api-Key": {apiKey}, "Authorization": {authorization}},
			URL:    &url.URL{RawQuery: query},
		}
		key, err := auth.KeyFromRequest(r)
		if err != nil {
			require.Empty(t, key)
			require.True(t, errors.Is(err, auth.ErrNoKey) || errors.Is(err, auth.ErrAmbiguousKey) ||
				errors.Is(err, auth.ErrMalformedAuthorization), "unexpected error %v", err)
			return
		}
		require.NotEmpty(t, key)
		inQuery := false
		for _, v := range r.URL.Query()["key"] {
			inQuery = inQuery || v == key
		}
		require.True(t, key == apiKey || strings.HasSuffix(strings.TrimRight(authorization, " "), " "+key) || inQuery,
			"key %q is not in the request", key)
	})
}

// TestAuthenticateReadOverHTTP serves the two routes a stream token opens on loopback, answering as
// the gateway does: 401 with one message for every ErrUnknownKey, so a refused token looks exactly
// like a wrong key. Any error quoting a key or a token answers 500.
func TestAuthenticateReadOverHTTP(t *testing.T) {
	kr, err := auth.NewKeyring(testKeys())
	require.NoError(t, err)
	tk, clk := newTokens(t, secretA)
	mint := func(stream, tenant string) string {
		tok, _, err := tk.Mint(stream, tenant, time.Minute)
		require.NoError(t, err)
		return tok
	}
	s1, s2, globexS1 := mint("s1", "acme"), mint("s2", "acme"), mint("s1", "globex")
	clk.Set(t0.Add(-2 * time.Minute))
	stale := mint("s1", "acme") // expired at t0
	clk.Set(t0)
	parts := strings.Split(s1, ".")
	tampered := parts[0] + "." + jsonSegment(t, with(map[string]any{"tenant": "globex"})) + "." + parts[2]
	none := handToken(t, map[string]any{"alg": "none"}, goodClaims(), "", nil)
	secrets := []string{aliceKey, bobKey, carolKey, s1, s2, globexS1, stale, tampered, none}

	serve := func(tokens *auth.Tokens) *httptest.Server {
		answer := func(w http.ResponseWriter, id auth.Identity, err error) {
			switch {
			case err == nil:
				_, _ = io.WriteString(w, id.Tenant+" "+id.KeyID+" "+strconv.FormatBool(id.ViaToken()))
			case slices.ContainsFunc(secrets, func(s string) bool { return strings.Contains(err.Error(), s) }):
				http.Error(w, "leak", http.StatusInternalServerError)
			case errors.Is(err, auth.ErrUnknownKey):
				http.Error(w, "API key not valid", http.StatusUnauthorized)
			default:
				http.Error(w, err.Error(), http.StatusUnauthorized)
			}
		}
		read := func(w http.ResponseWriter, r *http.Request) {
			id, err := kr.AuthenticateRead(r, tokens, r.PathValue("id"))
			answer(w, id, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /v1/streams/{id}/events", read)
		mux.HandleFunc("GET /v1/streams/{id}", read)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			id, err := kr.AuthenticateRequest(r)
			answer(w, id, err)
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	on, off := serve(tk), serve(nil)

	const wrongKey = "API key not valid\n"
	bearer := func(v string) http.Header { return http.Header{"Authorization": {"Bearer " + v}} }
	tests := []struct {
		name     string
		srv      *httptest.Server
		method   string // default GET
		path     string
		header   http.Header
		query    string
		wantCode int
		wantBody string
	}{
		{"query token on events", on, "", "/v1/streams/s1/events", nil, "token=" + s1, 200, "acme token/acme true"},
		{"query token on info", on, "", "/v1/streams/s1", nil, "token=" + s1, 200, "acme token/acme true"},
		{"query token beside after", on, "", "/v1/streams/s1/events", nil, "after=3&token=" + s1, 200, "acme token/acme true"},
		{"bearer token", on, "", "/v1/streams/s1/events", bearer(s1), "", 200, "acme token/acme true"},
		{"same token twice", on, "", "/v1/streams/s1/events", bearer(s1), "token=" + s1 + "&token=" + s1, 200, "acme token/acme true"},
		{"token of another tenant: the caller checks the stream's tenant", on, "", "/v1/streams/s1", nil, "token=" + globexS1, 200, "globex token/globex true"},
		{"key on a read route", on, "", "/v1/streams/s2/events", http.Header{"X-Goog-Api-Key": {aliceKey}}, "", 200, "acme alice false"},
		{"bearer key on a read route", on, "", "/v1/streams/s2", bearer(carolKey), "", 200, "globex carol false"},
		{"query key on a read route", on, "", "/v1/streams/s2/events", nil, "key=" + bobKey, 200, "acme bob false"},

		{"token for another stream", on, "", "/v1/streams/s2/events", nil, "token=" + s1, 401, wrongKey},
		{"bearer token for another stream", on, "", "/v1/streams/s2", bearer(s1), "", 401, wrongKey},
		{"expired token", on, "", "/v1/streams/s1/events", nil, "token=" + stale, 401, wrongKey},
		{"tampered token", on, "", "/v1/streams/s1/events", nil, "token=" + tampered, 401, wrongKey},
		{"alg none", on, "", "/v1/streams/s1/events", bearer(none), "", 401, wrongKey},
		{"garbage token", on, "", "/v1/streams/s1/events", nil, "token=garbage", 401, wrongKey},
		{"garbage bearer", on, "", "/v1/streams/s1/events", bearer("sk-mallory"), "", 401, wrongKey},
		{"token as ?key=", on, "", "/v1/streams/s1/events", nil, "key=" + s1, 401, wrongKey},
		{"token as x-goog-api-key", on, "", "/v1/streams/s1/events", http.Header{"X-Goog-Api-Key": {s1}}, "", 401, wrongKey},
		{"token and key", on, "", "/v1/streams/s1/events", nil, "token=" + s1 + "&key=" + aliceKey, 401, "different API keys presented in one request\n"},
		{"token and header key", on, "", "/v1/streams/s1/events", http.Header{"X-Goog-Api-Key": {aliceKey}}, "token=" + s1, 401, "different API keys presented in one request\n"},
		{"token and bearer key", on, "", "/v1/streams/s1/events", bearer(aliceKey), "token=" + s1, 401, "different API keys presented in one request\n"},
		{"two tokens", on, "", "/v1/streams/s1/events", nil, "token=" + s1 + "&token=" + s2, 401, "different API keys presented in one request\n"},
		{"token and basic auth", on, "", "/v1/streams/s1/events", http.Header{"Authorization": {"Basic YWxpY2U6cHc="}}, "token=" + s1, 401, "authorization header is not a Bearer token\n"},
		{"nothing", on, "", "/v1/streams/s1/events", nil, "", 401, "no API key presented\n"},
		{"empty token", on, "", "/v1/streams/s1/events", nil, "token=", 401, "no API key presented\n"},

		{"query token on another route", on, "", "/v1/streams", nil, "token=" + s1, 401, wrongKey},
		{"bearer token on another route", on, http.MethodPost, "/v1/streams", bearer(s1), "", 401, wrongKey},
		{"token on DELETE of its stream", on, http.MethodDelete, "/v1/streams/s1", nil, "token=" + s1, 401, wrongKey},
		{"token on tokens of its stream", on, http.MethodPost, "/v1/streams/s1/tokens", bearer(s1), "", 401, wrongKey},
		{"key beside a token on another route", on, "", "/v1/streams", http.Header{"X-Goog-Api-Key": {aliceKey}}, "token=" + s1, 200, "acme alice false"},

		{"tokens off: query token", off, "", "/v1/streams/s1/events", nil, "token=" + s1, 401, wrongKey},
		{"tokens off: bearer token", off, "", "/v1/streams/s1/events", bearer(s1), "", 401, wrongKey},
		{"tokens off: key", off, "", "/v1/streams/s1/events", bearer(aliceKey), "", 200, "acme alice false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequestWithContext(t.Context(), method, tt.srv.URL+tt.path+"?"+tt.query, nil)
			require.NoError(t, err)
			for k, vs := range tt.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			resp, err := tt.srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.wantCode, resp.StatusCode)
			assert.Equal(t, tt.wantBody, string(body))
		})
	}
}

func TestAuthenticateReadReasons(t *testing.T) {
	kr, err := auth.NewKeyring(testKeys())
	require.NoError(t, err)
	tk, _ := newTokens(t, secretA)
	tok, _, err := tk.Mint("s1", "acme", 0)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/v1/streams/s2/events?token="+tok, nil)
	_, err = kr.AuthenticateRead(r, tk, "s2")
	require.ErrorIs(t, err, auth.ErrUnknownKey)
	require.ErrorIs(t, err, auth.ErrInvalidToken)
	assert.EqualError(t, err, "API key not valid: invalid stream token: granted for another stream")

	r = httptest.NewRequest(http.MethodGet, "/v1/streams?token="+tok, nil)
	_, err = kr.AuthenticateRequest(r)
	require.ErrorIs(t, err, auth.ErrUnknownKey)
	assert.EqualError(t, err, "API key not valid: a stream token opens only its stream's events and info")

	_, err = kr.AuthenticateRead(nil, tk, "s1")
	require.ErrorIs(t, err, auth.ErrNoKey)
}

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		query, want string
		wantErr     error
	}{
		{"", "", nil},
		{"token=", "", nil},
		{"token=a.b.c", "a.b.c", nil},
		{"token=&token=a.b.c&token=a.b.c", "a.b.c", nil},
		{"token=a.b.c&token=x.y.z", "", auth.ErrAmbiguousKey},
		{"key=a.b.c", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := auth.TokenFromRequest(&http.Request{URL: &url.URL{RawQuery: tt.query}})
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.want, got)
		})
	}
	got, err := auth.TokenFromRequest(nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}
