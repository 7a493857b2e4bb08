package authtest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/oauth2/jws"

	"github.com/streamgate/streamgate/auth/authtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func post(t *testing.T, ts *authtest.TokenServer, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := ts.Client().PostForm(ts.URL(), form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "body %s", b)
	return resp.StatusCode, m
}

func serviceAccountKey(t *testing.T, ts *authtest.TokenServer) *rsa.PrivateKey {
	block, _ := pem.Decode([]byte(ts.PrivateKeyPEM()))
	require.NotNil(t, block)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	return k.(*rsa.PrivateKey)
}

func TestJWTBearerGrant(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	key := serviceAccountKey(t, ts)
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	now := time.Now()
	good := func() (*jws.Header, *jws.ClaimSet) {
		return &jws.Header{Algorithm: "RS256", Typ: "JWT", KeyID: authtest.PrivateKeyID},
			&jws.ClaimSet{Iss: authtest.ClientEmail, Scope: "s1 s2", Aud: ts.URL(),
				Iat: now.Unix(), Exp: now.Add(time.Hour).Unix()}
	}
	tests := []struct {
		name    string
		edit    func(*jws.Header, *jws.ClaimSet)
		signer  *rsa.PrivateKey
		wantErr string
	}{
		{"valid", func(*jws.Header, *jws.ClaimSet) {}, key, ""},
		{"signed by another key", func(*jws.Header, *jws.ClaimSet) {}, other, "invalid JWT signature"},
		{"wrong kid", func(h *jws.Header, _ *jws.ClaimSet) { h.KeyID = "k2" }, key, `kid "k2", want "streamgate-test-key-1"`},
		{"wrong issuer", func(_ *jws.Header, c *jws.ClaimSet) { c.Iss = "x@y" }, key, `iss "x@y", want "` + authtest.ClientEmail + `"`},
		{"wrong audience", func(_ *jws.Header, c *jws.ClaimSet) { c.Aud = "https://oauth2.googleapis.com/token" }, key,
			`aud "https://oauth2.googleapis.com/token", want "` + ts.URL() + `"`},
		{"no scope", func(_ *jws.Header, c *jws.ClaimSet) { c.Scope = "" }, key, "no scope"},
		{"expired", func(_ *jws.Header, c *jws.ClaimSet) {
			c.Iat, c.Exp = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}, key,
			"JWT must be short-lived and in a reasonable timeframe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, c := good()
			tt.edit(h, c)
			assertion, err := jws.Encode(h, c, tt.signer)
			require.NoError(t, err)
			status, body := post(t, ts, url.Values{"grant_type": {authtest.GrantJWTBearer}, "assertion": {assertion}})
			if tt.wantErr != "" {
				assert.Equal(t, http.StatusBadRequest, status)
				assert.Equal(t, map[string]any{"error": "invalid_grant", "error_description": tt.wantErr}, body)
				return
			}
			assert.Equal(t, http.StatusOK, status)
			tok := body["access_token"].(string)
			assert.Equal(t, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600.0}, body)
			assert.True(t, strings.HasPrefix(tok, authtest.TokenPrefix))
			assert.True(t, ts.Valid(tok))
			assert.Equal(t, []authtest.Grant{{Type: authtest.GrantJWTBearer, Issuer: authtest.ClientEmail,
				KeyID: authtest.PrivateKeyID, Audience: ts.URL(), Scope: "s1 s2", Token: tok}}, ts.Grants())
		})
	}
}

func TestOtherRequests(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {authtest.RefreshToken},
		"client_id": {authtest.ClientID}, "client_secret": {authtest.ClientSecret}}

	status, body := post(t, ts, refresh)
	assert.Equal(t, http.StatusOK, status)
	assert.True(t, ts.Valid(body["access_token"].(string)))

	bad := url.Values{}
	for k, v := range refresh {
		bad[k] = v
	}
	bad.Set("refresh_token", "stolen")
	status, body = post(t, ts, bad)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "unknown refresh token", body["error_description"])

	status, body = post(t, ts, url.Values{"grant_type": {"password"}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, `unsupported grant_type "password"`, body["error_description"])

	status, body = post(t, ts, url.Values{"grant_type": {authtest.GrantJWTBearer}, "assertion": {"a.b"}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "assertion is not a JWS compact serialisation", body["error_description"])

	ts.SetExpiresIn(0)
	_, body = post(t, ts, refresh)
	assert.False(t, ts.Valid(body["access_token"].(string)), "a token with no life left is not valid")
	assert.False(t, ts.Valid("ya29.forged"))

	ts.Fail(http.StatusTooManyRequests, `{"error":"rate_limited","echo":"{assertion}"}`)
	status, body = post(t, ts, url.Values{"grant_type": {authtest.GrantJWTBearer}, "assertion": {"x.y.z"}})
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, map[string]any{"error": "rate_limited", "echo": "x.y.z"}, body)
	assert.Equal(t, 6, ts.Requests())
	assert.Len(t, ts.Grants(), 2)
}

func TestHold(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	release := ts.Hold(t)
	done := make(chan int, 1)
	go func() {
		resp, err := ts.Client().PostForm(ts.URL(), url.Values{"grant_type": {"password"}})
		if err != nil {
			done <- 0
			return
		}
		_ = resp.Body.Close()
		done <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return ts.Requests() == 1 }, 5*time.Second, time.Millisecond)
	select {
	case <-done:
		t.Fatal("a held request was answered")
	default:
	}
	release()
	release()
	assert.Equal(t, http.StatusBadRequest, <-done)
}
