package auth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
)

// Apply is the interface the upstream package consumes.
var (
	_ interface {
		Apply(context.Context, *http.Request) error
	} = (*auth.APIKey)(nil)
	_ interface {
		Apply(context.Context, *http.Request) error
	} = (*auth.GoogleOAuth)(nil)
)

const upstreamKey = "AIzaSyStreamgateTest0123456789abcdefg"

func TestAPIKeyApplyOverHTTP(t *testing.T) {
	k, err := auth.NewAPIKey(upstreamKey)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, fmt.Sprint(r.Header.Values("X-Goog-Api-Key")))
	}))
	t.Cleanup(srv.Close)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("X-Goog-Api-Key", "the caller's key")
	require.NoError(t, k.Apply(t.Context(), req))
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "["+upstreamKey+"]", string(body), "the gateway's key replaces any other")
}

func TestNewAPIKeyInvalid(t *testing.T) {
	for name, key := range map[string]string{
		"empty":          "",
		"space":          "AIza Sy",
		"newline":        "AIzaSy\n",
		"carriage ret":   "AIzaSy\rX-Evil: 1",
		"nul":            "AIza\x00Sy",
		"non-ASCII":      "AIzaSé",
		"leading spaces": " AIzaSy",
	} {
		t.Run(name, func(t *testing.T) {
			k, err := auth.NewAPIKey(key)
			require.ErrorIs(t, err, auth.ErrInvalidAPIKey)
			assert.Nil(t, k)
			assert.Equal(t, "invalid upstream API key: want non-empty printable ASCII without spaces", err.Error())
		})
	}
}

func TestAPIKeyApplyBadInput(t *testing.T) {
	k, err := auth.NewAPIKey(upstreamKey)
	require.NoError(t, err)
	require.ErrorIs(t, k.Apply(t.Context(), nil), auth.ErrNilRequest)

	req := httptest.NewRequest(http.MethodPost, "/", nil)
	var nilKey *auth.APIKey
	require.ErrorIs(t, nilKey.Apply(t.Context(), req), auth.ErrNoCredential)
	require.ErrorIs(t, (&auth.APIKey{}).Apply(t.Context(), req), auth.ErrNoCredential)
	assert.Empty(t, req.Header)
}

func TestAPIKeyRedaction(t *testing.T) {
	k, err := auth.NewAPIKey(upstreamKey)
	require.NoError(t, err)

	assert.Equal(t, "[REDACTED]", k.String())
	assert.Equal(t, "auth.APIKey{[REDACTED]}", k.GoString())
	assert.Equal(t, "[REDACTED] auth.APIKey{[REDACTED]} [REDACTED]", fmt.Sprintf("%v %#v %d", k, k, k))
	assert.Equal(t, `"[REDACTED]"`, string(must(k.MarshalJSON())))
	assert.Equal(t, "[REDACTED]", k.LogValue().String())

	requireNoSecret(t, k, upstreamKey)
	// A copied value has no methods of its own to call, and shows only the address of the key.
	requireNoSecret(t, *k, upstreamKey)
	type holder struct {
		name string
		key  *auth.APIKey
		val  auth.APIKey
	}
	requireNoSecret(t, holder{"gemini", k, *k}, upstreamKey)
	requireNoSecret(t, &holder{"gemini", k, *k}, upstreamKey)
}

func TestAPIKeySecrets(t *testing.T) {
	k, err := auth.NewAPIKey("AIza-secrets-test")
	require.NoError(t, err)
	require.Equal(t, []string{"AIza-secrets-test"}, k.Secrets())
	require.Nil(t, (&auth.APIKey{}).Secrets())
	require.Nil(t, (*auth.APIKey)(nil).Secrets())
}
