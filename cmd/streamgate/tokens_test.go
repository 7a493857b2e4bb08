package main_test

import (
	"encoding/json"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// auth.token_secret reaches the gateway: with it a key mints a token that reads its stream, and
// without it the token route answers 501.
func TestStreamTokensFromConfig(t *testing.T) {
	const secret = "cmd-test-token-secret-0123456789abcdef"
	for _, tc := range []struct {
		name   string
		secret string
		mint   int
	}{
		{"with a secret", `"${TOKEN_SECRET}"`, http.StatusCreated},
		{"without one", `""`, http.StatusNotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeConfig(t, dir, "gw.yaml", `
listen: 127.0.0.1:0
upstream: {kind: simulator}
auth:
  keys: [{id: alice, key: "alice-secret-key", tenant: acme}]
  token_secret: `+tc.secret+`
`)
			p := start(t, dir, []string{"TOKEN_SECRET=" + secret}, "-config", cfg)
			resp, body := post(t, p.url+"/v1/streams", "alice-secret-key", `{"id":"s1"}`)
			require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
			resp, body = post(t, p.url+"/v1/streams/s1/tokens", "alice-secret-key", `{"ttl":"1m"}`)
			require.Equal(t, tc.mint, resp.StatusCode, string(body))
			var token struct{ Token string }
			if tc.mint == http.StatusCreated {
				require.NoError(t, json.Unmarshal(body, &token))
				status, info := get(t, p.url+"/v1/streams/s1?token="+token.Token)
				assert.Equal(t, http.StatusOK, status, string(info))
			}
			assert.Equal(t, 0, p.stop(syscall.SIGTERM))
			assert.NotContains(t, p.stderr.String(), secret)
			if token.Token != "" {
				assert.NotContains(t, p.stderr.String(), token.Token)
			}
		})
	}
}
