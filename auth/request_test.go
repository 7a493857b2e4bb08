package auth_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

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
	r := httptest.NewRequest(http.MethodGet, "/v1/streams/abc/events?key=sk-secret&after=3&key=sk-other", nil)
	r.Header.Set("X-Goog-Api-Key", "sk-secret")
	r.Header.Set("Authorization", "Bearer sk-secret")
	r.Header.Set("Last-Event-Id", "7")
	auth.StripKey(r)
	assert.Equal(t, "after=3", r.URL.RawQuery)
	assert.Equal(t, "/v1/streams/abc/events?after=3", r.RequestURI)
	assert.Equal(t, http.Header{"Last-Event-Id": {"7"}}, r.Header)
	_, err := auth.KeyFromRequest(r)
	assert.ErrorIs(t, err, auth.ErrNoKey)

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
