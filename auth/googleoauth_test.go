package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/auth/authtest"
)

func token(n int) string { return authtest.TokenPrefix + strconv.Itoa(n) }

// fakeVertex answers 200 only to a request bearing a token ts issued and that has not expired.
func fakeVertex(t *testing.T, ts *authtest.TokenServer) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !ts.Valid(tok) {
			http.Error(w, `{"error":{"code":401,"status":"UNAUTHENTICATED"}}`, http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newGoogleOAuth(t *testing.T, ts *authtest.TokenServer, cfg auth.GoogleOAuthConfig) *auth.GoogleOAuth {
	t.Helper()
	if cfg.CredentialsFile == "" {
		cfg.CredentialsFile = authtest.WriteFile(t, "sa.json", ts.ServiceAccountJSON())
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = ts.Client()
	}
	g, err := auth.NewGoogleOAuth(t.Context(), cfg)
	require.NoError(t, err)
	return g
}

// applyHeader applies g to a fresh request and returns its Authorization header.
func applyHeader(t *testing.T, g *auth.GoogleOAuth) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	require.NoError(t, g.Apply(t.Context(), req))
	return req.Header.Get("Authorization")
}

func TestGoogleOAuthServiceAccountFile(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	vertex := fakeVertex(t, ts)
	path := authtest.WriteFile(t, "sa.json", ts.ServiceAccountJSON())
	g := newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{CredentialsFile: path})

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, vertex.URL, nil)
	require.NoError(t, err)
	require.NoError(t, g.Apply(t.Context(), req))
	assert.Equal(t, "Bearer "+token(1), req.Header.Get("Authorization"))
	resp, err := vertex.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	assert.Equal(t, []authtest.Grant{{
		Type:     authtest.GrantJWTBearer,
		Issuer:   authtest.ClientEmail,
		KeyID:    authtest.PrivateKeyID,
		Audience: ts.URL(),
		Scope:    auth.CloudPlatformScope,
		Token:    token(1),
	}}, ts.Grants())
	assert.Equal(t, authtest.ProjectID, g.ProjectID())
	assert.Equal(t, `auth.GoogleOAuth{service account "`+authtest.ClientEmail+`" from file "`+path+`"}`, g.String())
}

func TestGoogleOAuthScopes(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{Scopes: []string{"https://example.test/a", "https://example.test/b"}})
	require.Len(t, ts.Grants(), 1)
	assert.Equal(t, "https://example.test/a https://example.test/b", ts.Grants()[0].Scope)
}

func TestGoogleOAuthRefresh(t *testing.T) {
	tests := []struct {
		name          string
		expiresIn     time.Duration
		refreshBefore time.Duration
		wantHeaders   []string
	}{
		{"fresh token is reused", time.Hour, 0, []string{token(1), token(1), token(1)}},
		{"token inside the default margin is replaced", 4 * time.Minute, 0, []string{token(2), token(3), token(4)}},
		{"token just outside the margin is reused", 11 * time.Minute, 10 * time.Minute, []string{token(1), token(1), token(1)}},
		{"token inside a custom margin is replaced", time.Hour, 61 * time.Minute, []string{token(2), token(3), token(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := authtest.NewTokenServer(t)
			ts.SetExpiresIn(tt.expiresIn)
			g := newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{RefreshBefore: tt.refreshBefore})
			var got []string
			for range tt.wantHeaders {
				h := applyHeader(t, g)
				tok, _ := strings.CutPrefix(h, "Bearer ")
				assert.True(t, ts.Valid(tok), "applied token %q is not valid", tok)
				got = append(got, tok)
			}
			assert.Equal(t, tt.wantHeaders, got)
			assert.Equal(t, 1+len(tt.wantHeaders)-countEqual(got, token(1)), ts.Requests())
		})
	}
}

// TestGoogleOAuthSecrets: Secrets reports the current token and the two it replaced last, for
// answers to requests sent before a refresh.
func TestGoogleOAuthSecrets(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	ts.SetExpiresIn(4 * time.Minute) // inside the default margin: replaced at every Apply
	g := newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{})
	assert.Equal(t, []string{token(1)}, g.Secrets())
	applyHeader(t, g)
	assert.Equal(t, []string{token(2), token(1)}, g.Secrets())
	applyHeader(t, g)
	applyHeader(t, g)
	assert.Equal(t, []string{token(4), token(3), token(2)}, g.Secrets())
	assert.Nil(t, (*auth.GoogleOAuth)(nil).Secrets())

	ts.SetExpiresIn(time.Hour)
	applyHeader(t, g)
	applyHeader(t, g)
	assert.Equal(t, []string{token(5), token(4), token(3)}, g.Secrets(), "a token reused is reported once")
}

func countEqual(ss []string, s string) int {
	n := 0
	for _, v := range ss {
		if v == s {
			n++
		}
	}
	return n
}

func TestGoogleOAuthConcurrent(t *testing.T) {
	const goroutines, applies = 16, 5
	run := func(t *testing.T, g *auth.GoogleOAuth) []string {
		var mu sync.Mutex
		var got []string
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range applies {
					req := httptest.NewRequest(http.MethodPost, "/", nil)
					if !assert.NoError(t, g.Apply(context.Background(), req)) {
						return
					}
					mu.Lock()
					got = append(got, req.Header.Get("Authorization"))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return got
	}
	t.Run("one token shared", func(t *testing.T) {
		ts := authtest.NewTokenServer(t)
		got := run(t, newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{}))
		require.Len(t, got, goroutines*applies)
		for _, h := range got {
			require.Equal(t, "Bearer "+token(1), h)
		}
		assert.Equal(t, 1, ts.Requests())
	})
	t.Run("refresh on every apply", func(t *testing.T) {
		ts := authtest.NewTokenServer(t)
		ts.SetExpiresIn(time.Minute)
		got := run(t, newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{RefreshBefore: time.Hour}))
		require.Len(t, got, goroutines*applies)
		distinct := map[string]bool{}
		for _, h := range got {
			tok, ok := strings.CutPrefix(h, "Bearer ")
			require.True(t, ok && ts.Valid(tok), "header %q", h)
			distinct[tok] = true
		}
		assert.Len(t, distinct, goroutines*applies, "each apply fetched its own token")
		assert.Equal(t, 1+goroutines*applies, ts.Requests())
	})
}

func TestGoogleOAuthADCServiceAccount(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	ts.SetExpiresIn(4 * time.Minute)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", authtest.WriteFile(t, "adc.json", ts.ServiceAccountJSON()))
	g, err := auth.NewGoogleOAuth(t.Context(), auth.GoogleOAuthConfig{HTTPClient: ts.Client()})
	require.NoError(t, err)

	assert.Equal(t, "Bearer "+token(2), applyHeader(t, g), "RefreshBefore applies to ADC service accounts")
	assert.Equal(t, authtest.GrantJWTBearer, ts.Grants()[0].Type)
	assert.Equal(t, authtest.ProjectID, g.ProjectID())
	assert.Equal(t, `auth.GoogleOAuth{service account "`+authtest.ClientEmail+`" from application default credentials}`, g.String())
}

func TestGoogleOAuthADCAuthorizedUser(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", authtest.WriteFile(t, "adc.json", ts.AuthorizedUserJSON()))
	var logs bytes.Buffer
	// No HTTPClient: the default client, with its timeout, fetches the token.
	g, err := auth.NewGoogleOAuth(t.Context(), auth.GoogleOAuthConfig{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, err)

	vertex := fakeVertex(t, ts)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, vertex.URL, nil)
	require.NoError(t, err)
	require.NoError(t, g.Apply(t.Context(), req))
	resp, err := vertex.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	require.Len(t, ts.Grants(), 1)
	assert.Equal(t, authtest.GrantRefreshToken, ts.Grants()[0].Type)
	assert.Equal(t, `auth.GoogleOAuth{application default credentials of type "authorized_user"}`, g.String())
	assert.Contains(t, logs.String(), `level=WARN msg="RefreshBefore does not apply to these credentials; tokens are refreshed 10s before expiry"`)
	assert.NotContains(t, logs.String(), authtest.RefreshToken)
	assert.NotContains(t, logs.String(), authtest.ClientSecret)
}

// TestGoogleOAuthADCAuthorizedUserMargin checks that Apply reuses a token the library will not
// replace yet: golang.org/x/oauth2 refreshes user credentials 10 s before expiry, so a token with 4
// minutes left, inside RefreshBefore's default 5, is served as is. Apply under a cancelled context
// tells the two paths apart: only the one that asks the library for a token fails.
func TestGoogleOAuthADCAuthorizedUserMargin(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	ts.SetExpiresIn(4 * time.Minute)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", authtest.WriteFile(t, "adc.json", ts.AuthorizedUserJSON()))
	g, err := auth.NewGoogleOAuth(t.Context(), auth.GoogleOAuthConfig{HTTPClient: ts.Client()})
	require.NoError(t, err)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	require.NoError(t, g.Apply(cancelled, req))
	assert.Equal(t, "Bearer "+token(1), req.Header.Get("Authorization"))
	assert.Equal(t, "Bearer "+token(1), applyHeader(t, g))
	assert.Equal(t, 1, ts.Requests())
}

func TestGoogleOAuthCredentialErrors(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	missing := filepath.Join(t.TempDir(), "missing.json")
	withField := func(field string, value any) string {
		var m map[string]any
		require.NoError(t, json.Unmarshal(ts.ServiceAccountJSON(), &m))
		if value == nil {
			delete(m, field)
		} else {
			m[field] = value
		}
		return authtest.WriteFile(t, "sa.json", must(json.Marshal(m)))
	}
	fixture := func(name string) string {
		path, err := filepath.Abs(filepath.Join("testdata", "credentials", name))
		require.NoError(t, err)
		return path
	}
	cause := func(path, msg string) string {
		return `google credentials (file "` + path + `"): invalid google credentials: ` + msg
	}
	tests := []struct {
		name    string
		file    string
		adcFile string
		wantIs  error
		wantMsg string
	}{
		{name: "missing file", file: missing, wantIs: fs.ErrNotExist,
			wantMsg: "read google credentials file: open " + missing + ": no such file or directory"},
		{name: "malformed JSON", file: fixture("malformed.json"), wantIs: auth.ErrInvalidCredentials,
			wantMsg: cause(fixture("malformed.json"), "not valid JSON (syntax error at byte 53)")},
		{name: "not an object", file: fixture("not-an-object.json"), wantIs: auth.ErrInvalidCredentials,
			wantMsg: cause(fixture("not-an-object.json"), "not a JSON object")},
		{name: "field of the wrong type", file: fixture("wrong-field-type.json"), wantIs: auth.ErrInvalidCredentials,
			wantMsg: cause(fixture("wrong-field-type.json"), `field "client_email" has the wrong JSON type`)},
		{name: "user credentials as a file", file: fixture("authorized-user.json"), wantIs: auth.ErrInvalidCredentials,
			wantMsg: cause(fixture("authorized-user.json"), `type is "authorized_user", want "service_account"`)},
		{name: "no client_email", file: fixture("no-client-email.json"), wantIs: auth.ErrInvalidCredentials,
			wantMsg: cause(fixture("no-client-email.json"), "client_email is missing")},
		{name: "no private_key", file: fixture("no-private-key.json"), wantIs: auth.ErrInvalidCredentials,
			wantMsg: cause(fixture("no-private-key.json"), "private_key is missing")},
		{name: "private_key not a key", file: fixture("bad-private-key.json"), wantIs: auth.ErrInvalidCredentials,
			wantMsg: cause(fixture("bad-private-key.json"), "private_key is not a PEM-encoded PKCS #8 or PKCS #1 RSA key")},
		{name: "private_key not PEM", file: withField("private_key", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
			wantIs: auth.ErrInvalidCredentials, wantMsg: "private_key is not a PEM-encoded PKCS #8 or PKCS #1 RSA key"},
		{name: "token_uri not a URL", file: withField("token_uri", "oauth2.googleapis.com/token"),
			wantIs: auth.ErrInvalidCredentials, wantMsg: "token_uri is not an http(s) URL"},
		{name: "no type", file: withField("type", nil), wantIs: auth.ErrInvalidCredentials,
			wantMsg: `type is "", want "service_account"`},
		{name: "ADC file missing", adcFile: missing, wantIs: nil,
			wantMsg: "find google application default credentials: google: error getting credentials using " +
				"GOOGLE_APPLICATION_CREDENTIALS environment variable: open " + missing + ": no such file or directory"},
		{name: "ADC file malformed", adcFile: fixture("malformed.json"),
			wantMsg: "find google application default credentials: google: error getting credentials using " +
				"GOOGLE_APPLICATION_CREDENTIALS environment variable: unexpected end of JSON input"},
		{name: "ADC service account without key", adcFile: fixture("no-private-key.json"), wantIs: auth.ErrInvalidCredentials,
			wantMsg: "google credentials (application default credentials): invalid google credentials: private_key is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.adcFile != "" {
				t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", tt.adcFile)
			}
			g, err := auth.NewGoogleOAuth(t.Context(), auth.GoogleOAuthConfig{CredentialsFile: tt.file, HTTPClient: ts.Client()})
			require.Error(t, err)
			assert.Nil(t, g)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			if strings.HasPrefix(tt.wantMsg, "read ") || strings.HasPrefix(tt.wantMsg, "google credentials") ||
				strings.HasPrefix(tt.wantMsg, "find ") {
				assert.Equal(t, tt.wantMsg, err.Error())
			} else {
				assert.True(t, strings.HasSuffix(err.Error(), tt.wantMsg), "error %q", err)
			}
			requireNoKeyMaterial(t, ts, err.Error())
			assert.Zero(t, ts.Requests(), "no token is fetched with bad credentials")
		})
	}
}

// requireNoKeyMaterial fails if s contains the service account's private key (any line of it), a
// JWT (the signed assertion starts with a base64url JSON header, "eyJ") or an access token.
func requireNoKeyMaterial(t *testing.T, ts *authtest.TokenServer, s string) {
	t.Helper()
	for _, line := range strings.Split(ts.PrivateKeyPEM(), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") {
			require.NotContains(t, s, line)
		}
	}
	require.NotContains(t, s, "eyJ")
	require.NotContains(t, s, authtest.TokenPrefix)
}

func TestGoogleOAuthConfigErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		cfg  auth.GoogleOAuthConfig
		want string
	}{
		"negative RefreshBefore": {auth.GoogleOAuthConfig{RefreshBefore: -time.Second},
			"invalid credential config: RefreshBefore -1s is negative"},
		"empty scope": {auth.GoogleOAuthConfig{Scopes: []string{auth.CloudPlatformScope, ""}},
			"invalid credential config: Scopes[1] is empty"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := auth.NewGoogleOAuth(t.Context(), tt.cfg)
			require.ErrorIs(t, err, auth.ErrInvalidConfig)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestGoogleOAuthTokenEndpointErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"400 echoing secrets", 400,
			`{"error":"invalid_grant","error_description":"bad assertion {assertion}","access_token":"` + token(9) + `"}`,
			400, "invalid_grant", "token endpoint answered 400 Bad Request (invalid_grant)"},
		{"400 with a secret as error code", 400, `{"error":"{assertion}"}`,
			400, "", "token endpoint answered 400 Bad Request"},
		{"401 with a key-like error code", 401, `{"error":"AIzaSyStreamgateTest0123456789"}`,
			401, "", "token endpoint answered 401 Unauthorized"},
		{"500 plain text echo", 500, "upstream trouble; you sent {assertion}",
			500, "", "token endpoint answered 500 Internal Server Error"},
		{"503 temporarily unavailable", 503, `{"error":"temporarily_unavailable"}`,
			503, "temporarily_unavailable", "token endpoint answered 503 Service Unavailable (temporarily_unavailable)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := authtest.NewTokenServer(t)
			ts.Fail(tt.status, tt.body)
			path := authtest.WriteFile(t, "sa.json", ts.ServiceAccountJSON())
			g, err := auth.NewGoogleOAuth(t.Context(), auth.GoogleOAuthConfig{CredentialsFile: path, HTTPClient: ts.Client()})
			require.Error(t, err)
			assert.Nil(t, g)
			var te *auth.TokenError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, auth.TokenError{StatusCode: tt.wantStatus, Code: tt.wantCode}, *te)
			assert.Equal(t, `google oauth (service account "`+authtest.ClientEmail+`" from file "`+path+
				`"): fetch access token: `+tt.wantMsg, err.Error())
			requireNoKeyMaterial(t, ts, err.Error())
			assert.Equal(t, 1, ts.Requests())
		})
	}
}

func TestGoogleOAuthMalformedToken(t *testing.T) {
	for name, body := range map[string]string{
		"no access_token":      `{"token_type":"Bearer","expires_in":3600}`,
		"empty access_token":   `{"access_token":"","expires_in":3600}`,
		"access_token with LF": `{"access_token":"ya29.a\nX-Evil: 1","expires_in":3600}`,
		"not JSON":             `<html>ok</html>`,
	} {
		t.Run(name, func(t *testing.T) {
			ts := authtest.NewTokenServer(t)
			ts.Fail(http.StatusOK, body)
			_, err := auth.NewGoogleOAuth(t.Context(), auth.GoogleOAuthConfig{
				CredentialsFile: authtest.WriteFile(t, "sa.json", ts.ServiceAccountJSON()),
				HTTPClient:      ts.Client(),
			})
			var te *auth.TokenError
			require.ErrorAs(t, err, &te)
			assert.Zero(t, te.StatusCode)
			if name == "not JSON" {
				assert.Contains(t, err.Error(), "fetch access token: oauth2: cannot fetch token: invalid character '<'")
			} else {
				require.ErrorIs(t, err, auth.ErrMalformedToken)
				assert.True(t, strings.HasSuffix(err.Error(),
					"fetch access token: token endpoint returned no usable access token"), "error %q", err)
			}
			assert.NotContains(t, err.Error(), "X-Evil")
		})
	}
}

func TestGoogleOAuthUnreachableEndpoint(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	var m map[string]any
	require.NoError(t, json.Unmarshal(ts.ServiceAccountJSON(), &m))
	m["token_uri"] = closed.URL + "/token"
	_, err := auth.NewGoogleOAuth(t.Context(), auth.GoogleOAuthConfig{
		CredentialsFile: authtest.WriteFile(t, "sa.json", must(json.Marshal(m))),
		HTTPClient:      ts.Client(),
	})
	var te *auth.TokenError
	require.ErrorAs(t, err, &te)
	assert.Zero(t, te.StatusCode)
	// golang.org/x/oauth2's JWT flow formats the transport error with %v, so only its text survives.
	assert.Contains(t, err.Error(), "fetch access token: oauth2: cannot fetch token: Post \""+closed.URL+"/token\"")
	requireNoKeyMaterial(t, ts, err.Error())
}

func TestGoogleOAuthApplyFailsThenRecovers(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	ts.SetExpiresIn(time.Minute)
	var logs bytes.Buffer
	g := newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{
		RefreshBefore: time.Hour,
		Logger:        slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})

	ts.Fail(http.StatusServiceUnavailable, `{"error":"temporarily_unavailable","access_token":"`+token(7)+`"}`)
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	err := g.Apply(t.Context(), req)
	var te *auth.TokenError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "fetch access token: token endpoint answered 503 Service Unavailable (temporarily_unavailable)", err.Error())
	assert.Empty(t, req.Header.Get("Authorization"), "a failed Apply leaves the request untouched")

	ts.Fail(0, "")
	assert.Equal(t, "Bearer "+token(2), applyHeader(t, g))

	assert.Equal(t, 2, strings.Count(logs.String(), `"msg":"google access token refreshed"`))
	requireNoKeyMaterial(t, ts, logs.String())
}

func TestGoogleOAuthApplyHonoursContext(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	ts.SetExpiresIn(time.Minute)
	g := newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{RefreshBefore: time.Hour})

	release := ts.Hold(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	go func() { done <- g.Apply(ctx, req) }()
	require.Eventually(t, func() bool { return ts.Requests() == 2 }, 5*time.Second, time.Millisecond)
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Apply did not return after its context was cancelled")
	}
	require.ErrorIs(t, err, context.Canceled)
	var te *auth.TokenError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "fetch access token: context canceled", err.Error())
	assert.Empty(t, req.Header.Get("Authorization"))

	release()
	h := applyHeader(t, g)
	assert.True(t, h == "Bearer "+token(2) || h == "Bearer "+token(3), "header %q", h)

	cancelled, cancel2 := context.WithCancel(t.Context())
	cancel2()
	before := ts.Requests()
	_, err = auth.NewGoogleOAuth(cancelled, auth.GoogleOAuthConfig{
		CredentialsFile: authtest.WriteFile(t, "sa.json", ts.ServiceAccountJSON()),
		HTTPClient:      ts.Client(),
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, ts.Requests(), "no fetch starts under a cancelled context")
}

func TestGoogleOAuthApplyBadInput(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	g := newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{})
	require.ErrorIs(t, g.Apply(t.Context(), nil), auth.ErrNilRequest)
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	var nilG *auth.GoogleOAuth
	require.ErrorIs(t, nilG.Apply(t.Context(), req), auth.ErrNoCredential)
	require.ErrorIs(t, (&auth.GoogleOAuth{}).Apply(t.Context(), req), auth.ErrNoCredential)
	assert.Empty(t, nilG.ProjectID())
	assert.Equal(t, "auth.GoogleOAuth{<nil>}", nilG.String())
}

func TestGoogleOAuthRedaction(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	path := authtest.WriteFile(t, "sa.json", ts.ServiceAccountJSON())
	g := newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{CredentialsFile: path})
	_ = applyHeader(t, g)

	want := `auth.GoogleOAuth{service account "` + authtest.ClientEmail + `" from file "` + path + `"}`
	assert.Equal(t, want+" "+want+" "+want, fmt.Sprintf("%v %#v %x", g, g, g))
	assert.Equal(t, must(json.Marshal(want)), must(g.MarshalJSON()))
	assert.Equal(t, want, g.LogValue().String())
	assert.Equal(t, want, g.GoString())
	requireNoSecret(t, g, token(1), authtest.TokenPrefix, "eyJ")
	for _, line := range strings.Split(ts.PrivateKeyPEM(), "\n")[1:3] {
		requireNoSecret(t, g, line)
	}
}

func TestTokenErrorMessages(t *testing.T) {
	assert.Equal(t, "fetch access token: token endpoint answered 429 Too Many Requests",
		(&auth.TokenError{StatusCode: 429}).Error())
	e := &auth.TokenError{Err: errors.New("dial tcp: refused")}
	assert.Equal(t, "fetch access token: dial tcp: refused", e.Error())
	assert.Equal(t, e.Err, errors.Unwrap(e))
}

// TestGoogleOAuthADCMetadataServer runs Application Default Credentials down to their last source, the
// GCE metadata server, played by a loopback server named in GCE_METADATA_HOST.
func TestGoogleOAuthADCMetadataServer(t *testing.T) {
	var mu sync.Mutex
	issued := 0
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		switch r.URL.Path {
		case "/computeMetadata/v1/project/project-id":
			_, _ = io.WriteString(w, "meta-project\n")
		case "/computeMetadata/v1/instance/service-accounts/default/token":
			if r.URL.Query().Get("scopes") != auth.CloudPlatformScope {
				http.Error(w, "wrong scopes "+r.URL.RawQuery, http.StatusBadRequest)
				return
			}
			mu.Lock()
			issued++
			n := issued
			mu.Unlock()
			_, _ = fmt.Fprintf(w, `{"access_token":"ya29.meta-%d","expires_in":240,"token_type":"Bearer"}`, n)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(meta.Close)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(meta.URL, "http://"))

	g, err := auth.NewGoogleOAuth(t.Context(), auth.GoogleOAuthConfig{})
	require.NoError(t, err)
	assert.Equal(t, "auth.GoogleOAuth{application default credentials from the metadata server}", g.String())
	assert.Equal(t, "meta-project", g.ProjectID())
	// 240 s of life is inside the default 5 min margin (the library's own default would be 225 s), so
	// every Apply fetches a new token.
	assert.Equal(t, "Bearer ya29.meta-2", applyHeader(t, g))
	assert.Equal(t, "Bearer ya29.meta-3", applyHeader(t, g))
}

func TestGoogleOAuthTokenWithoutExpiry(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	ts.Fail(http.StatusOK, `{"access_token":"ya29.forever","token_type":"Bearer"}`)
	var logs bytes.Buffer
	g := newGoogleOAuth(t, ts, auth.GoogleOAuthConfig{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	assert.Equal(t, "Bearer ya29.forever", applyHeader(t, g))
	assert.Equal(t, "Bearer ya29.forever", applyHeader(t, g))
	assert.Equal(t, 1, ts.Requests())
	assert.Contains(t, logs.String(), "expires_in=never")
	assert.NotContains(t, logs.String(), "ya29.forever")
}
