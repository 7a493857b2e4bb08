package auth_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
)

// mintStreamToken is how a backend that holds the gateway's auth.token_secret mints a stream token
// offline. docs/tokens.md shows this function as it is (TestTokensDocShowsTheExample checks).
func mintStreamToken(secret []byte, streamID, tenant string, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"sub":    streamID, // the one stream the token may read
		"tenant": tenant,   // the tenant that stream belongs to
		"scope":  "read",
		"iat":    now.Unix(),
		"exp":    now.Add(ttl).Unix(), // at most 24 h after iat
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// A token minted offline with golang-jwt and the gateway's secret is accepted by the gateway's
// Tokens for its stream, and refused for any other.
func Example_mintOffline() {
	secret := []byte("an-example-secret-of-at-least-32-bytes")
	token, err := mintStreamToken(secret, "s1", "acme", 10*time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}

	tokens, err := auth.NewTokens(auth.TokenConfig{Secrets: [][]byte{secret}})
	if err != nil {
		fmt.Println(err)
		return
	}
	grant, err := tokens.Verify(token, "s1")
	left := time.Until(grant.ExpiresAt)
	fmt.Println(grant.Tenant, err, left > 9*time.Minute && left <= 10*time.Minute)
	_, err = tokens.Verify(token, "s2")
	fmt.Println(err)
	// Output:
	// acme <nil> true
	// invalid stream token: granted for another stream
}

// TestTokensDocShowsTheExample keeps docs/tokens.md's offline-minting example the compiled one.
func TestTokensDocShowsTheExample(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	start := strings.Index(string(src), "func mintStreamToken(")
	require.GreaterOrEqual(t, start, 0)
	end := strings.Index(string(src[start:]), "\n}\n")
	require.GreaterOrEqual(t, end, 0)
	fn := string(src[start : start+end+2])
	doc, err := os.ReadFile(filepath.Join("..", "docs", "tokens.md"))
	require.NoError(t, err)
	require.Contains(t, string(doc), "```go\n"+fn+"\n```", "docs/tokens.md must show mintStreamToken as example_test.go has it")
}
