package authtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Identity of the test service account and user credentials TokenServer accepts.
const (
	ClientEmail  = "streamgate-test@streamgate-test.iam.gserviceaccount.com"
	PrivateKeyID = "streamgate-test-key-1"
	ProjectID    = "streamgate-test"
	ClientID     = "streamgate-test-client.apps.googleusercontent.com"
	ClientSecret = "streamgate-test-client-secret"
	RefreshToken = "streamgate-test-refresh-token"
)

// Grant types TokenServer accepts.
const (
	GrantJWTBearer    = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantRefreshToken = "refresh_token"
)

// TokenPrefix starts every access token TokenServer issues.
const TokenPrefix = "ya29.streamgate-test-"

// AssertionPlaceholder in a Fail body is replaced by the request's JWT assertion, so a test can check
// that a token endpoint echoing secrets back does not get them into an error.
const AssertionPlaceholder = "{assertion}"

// Grant is a token request TokenServer accepted.
type Grant struct {
	Type     string // GrantJWTBearer or GrantRefreshToken
	Issuer   string // JWT "iss": the service account's email (jwt-bearer only)
	KeyID    string // JWT header "kid" (jwt-bearer only)
	Audience string // JWT "aud" (jwt-bearer only)
	Scope    string // requested scopes, space-separated
	Token    string // the access token issued
}

// TokenServer is a local Google-style OAuth2 token endpoint. It is safe for concurrent use.
type TokenServer struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	keyPEM string

	mu         sync.Mutex
	expiresIn  time.Duration
	failStatus int
	failBody   string
	hold       chan struct{}
	requests   int
	grants     []Grant
	expiry     map[string]time.Time
}

// testKey is one RSA key shared by every TokenServer of the process. It is 1024 bits, the least Go
// allows, and made once: a 2048-bit key takes over a second to generate under -race.
var testKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 1024)
})

// NewTokenServer starts a TokenServer on loopback, closed when tb ends. Tokens last one hour until
// SetExpiresIn says otherwise.
func NewTokenServer(tb testing.TB) *TokenServer {
	tb.Helper()
	key, err := testKey()
	if err != nil {
		tb.Fatalf("authtest: generate RSA key: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("authtest: marshal RSA key: %v", err)
	}
	s := &TokenServer{
		key:       key,
		keyPEM:    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		expiresIn: time.Hour,
		expiry:    map[string]time.Time{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	tb.Cleanup(s.srv.Close)
	return s
}

// URL returns the token endpoint's URL, the token_uri of the credential files.
func (s *TokenServer) URL() string { return s.srv.URL + "/token" }

// Client returns an HTTP client for the server; its idle connections close with the server.
func (s *TokenServer) Client() *http.Client { return s.srv.Client() }

// PrivateKeyPEM returns the service account's private key, PKCS #8 in PEM.
func (s *TokenServer) PrivateKeyPEM() string { return s.keyPEM }

// ServiceAccountJSON returns a service-account key file whose token_uri is the server.
func (s *TokenServer) ServiceAccountJSON() []byte {
	return mustJSON(map[string]string{
		"type":                        "service_account",
		"project_id":                  ProjectID,
		"private_key_id":              PrivateKeyID,
		"private_key":                 s.PrivateKeyPEM(),
		"client_email":                ClientEmail,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   s.URL(),
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
	})
}

// AuthorizedUserJSON returns a gcloud user-credentials file (as "gcloud auth application-default
// login" writes) whose token_uri is the server.
func (s *TokenServer) AuthorizedUserJSON() []byte {
	return mustJSON(map[string]string{
		"type":          "authorized_user",
		"client_id":     ClientID,
		"client_secret": ClientSecret,
		"refresh_token": RefreshToken,
		"token_uri":     s.URL(),
	})
}

// WriteFile writes data to a file in tb's temporary directory and returns its path.
func WriteFile(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatalf("authtest: write %s: %v", path, err)
	}
	return path
}

// SetExpiresIn sets the lifetime of the tokens issued from now on (whole seconds, as expires_in).
func (s *TokenServer) SetExpiresIn(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiresIn = d
}

// Fail makes every later request answer status with body (AssertionPlaceholder replaced by the
// request's assertion). Fail(0, "") makes the server issue tokens again.
func (s *TokenServer) Fail(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failBody = status, body
}

// Hold makes later requests wait, until release is called or their client gives up. release may be
// called more than once; it is also called when the test ends.
func (s *TokenServer) Hold(tb testing.TB) (release func()) {
	hold := make(chan struct{})
	s.mu.Lock()
	s.hold = hold
	s.mu.Unlock()
	release = sync.OnceFunc(func() {
		s.mu.Lock()
		if s.hold == hold {
			s.hold = nil
		}
		s.mu.Unlock()
		close(hold)
	})
	tb.Cleanup(release)
	return release
}

// Requests returns how many requests reached the server, failed ones included.
func (s *TokenServer) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Grants returns the requests the server accepted, in order.
func (s *TokenServer) Grants() []Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Grant(nil), s.grants...)
}

// Valid reports whether token was issued by s and has not expired: what a fake Vertex AI server
// checks in "Authorization: Bearer <token>".
func (s *TokenServer) Valid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.expiry[token]
	return ok && time.Now().Before(exp)
}

func (s *TokenServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	hold, status, body := s.hold, s.failStatus, s.failBody
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/token" {
		oauthError(w, http.StatusNotFound, "invalid_request", "POST /token only")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form: "+err.Error())
		return
	}
	if status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(strings.ReplaceAll(body, AssertionPlaceholder, r.PostForm.Get("assertion"))))
		return
	}
	var g Grant
	var err error
	switch gt := r.PostForm.Get("grant_type"); gt {
	case GrantJWTBearer:
		g, err = s.checkAssertion(r.PostForm.Get("assertion"))
	case GrantRefreshToken:
		g, err = checkRefresh(r)
	default:
		err = fmt.Errorf("unsupported grant_type %q", gt)
	}
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	s.issue(w, g)
}

func (s *TokenServer) issue(w http.ResponseWriter, g Grant) {
	s.mu.Lock()
	g.Token = TokenPrefix + strconv.Itoa(len(s.grants)+1)
	s.grants = append(s.grants, g)
	life := s.expiresIn
	s.expiry[g.Token] = time.Now().Add(life)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(mustJSON(map[string]any{
		"access_token": g.Token,
		"token_type":   "Bearer",
		"expires_in":   int(life / time.Second),
	}))
}

// checkAssertion verifies a JWT-bearer assertion as Google does.
func (s *TokenServer) checkAssertion(assertion string) (Grant, error) {
	a, err := parseAssertion(assertion)
	if err != nil {
		return Grant{}, err
	}
	now := time.Now().Unix()
	switch {
	case a.header.Alg != "RS256":
		return Grant{}, fmt.Errorf("alg %q, want RS256", a.header.Alg)
	case rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, a.digest[:], a.sig) != nil:
		return Grant{}, errors.New("invalid JWT signature")
	case a.header.Kid != PrivateKeyID:
		return Grant{}, fmt.Errorf("kid %q, want %q", a.header.Kid, PrivateKeyID)
	case a.claims.Iss != ClientEmail:
		return Grant{}, fmt.Errorf("iss %q, want %q", a.claims.Iss, ClientEmail)
	case a.claims.Aud != s.URL():
		return Grant{}, fmt.Errorf("aud %q, want %q", a.claims.Aud, s.URL())
	case a.claims.Scope == "":
		return Grant{}, errors.New("no scope")
	case a.claims.Exp <= now || a.claims.Iat > now+60:
		return Grant{}, errors.New("JWT must be short-lived and in a reasonable timeframe")
	}
	return Grant{Type: GrantJWTBearer, Issuer: a.claims.Iss, KeyID: a.header.Kid, Audience: a.claims.Aud, Scope: a.claims.Scope}, nil
}

// jwtAssertion is a JWT-bearer assertion decoded but not verified.
type jwtAssertion struct {
	header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Iat   int64  `json:"iat"`
		Exp   int64  `json:"exp"`
	}
	digest [sha256.Size]byte // of the signing input, header.claims
	sig    []byte
}

// parseAssertion decodes the three segments of a JWS compact serialisation.
func parseAssertion(assertion string) (jwtAssertion, error) {
	var a jwtAssertion
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return a, errors.New("assertion is not a JWS compact serialisation")
	}
	if err := decodeSegment(parts[0], &a.header); err != nil {
		return a, fmt.Errorf("assertion header: %w", err)
	}
	if err := decodeSegment(parts[1], &a.claims); err != nil {
		return a, fmt.Errorf("assertion claims: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return a, fmt.Errorf("assertion signature: %w", err)
	}
	a.sig = sig
	a.digest = sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return a, nil
}

func checkRefresh(r *http.Request) (Grant, error) {
	f := r.PostForm
	if f.Get("client_id") != ClientID || f.Get("client_secret") != ClientSecret {
		return Grant{}, errors.New("unauthorized client")
	}
	if f.Get("refresh_token") != RefreshToken {
		return Grant{}, errors.New("unknown refresh token")
	}
	return Grant{Type: GrantRefreshToken, Scope: f.Get("scope")}, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(map[string]string{"error": code, "error_description": desc}))
}

// mustJSON marshals the maps of strings and ints this file builds, which cannot fail.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
