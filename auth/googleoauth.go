package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// CloudPlatformScope is the OAuth2 scope Vertex AI requires; GoogleOAuthConfig uses it by default.
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// Defaults of GoogleOAuthConfig.
const (
	DefaultRefreshBefore = 5 * time.Minute
	// DefaultTokenTimeout bounds one token fetch when GoogleOAuthConfig.HTTPClient is nil.
	DefaultTokenTimeout = 30 * time.Second
)

// recentTokens is how many access tokens Secrets reports: the current one and those it replaced
// last, which requests still out may carry.
const recentTokens = 3

// GoogleOAuthConfig configures a GoogleOAuth credential.
type GoogleOAuthConfig struct {
	// CredentialsFile is the path of a service-account key file (JSON, "type": "service_account").
	// Empty means Application Default Credentials: the file named by GOOGLE_APPLICATION_CREDENTIALS,
	// then gcloud's well-known file, then the GCE metadata server.
	CredentialsFile string
	// Scopes requested; default [CloudPlatformScope].
	Scopes []string
	// RefreshBefore is how long before its expiry a token is replaced; default DefaultRefreshBefore.
	// It applies to service-account keys (from a file or ADC) and the metadata server; for other ADC
	// file types (gcloud user credentials, workload identity federation) golang.org/x/oauth2 refreshes
	// 10 s before expiry whatever this says, and NewGoogleOAuth logs a warning.
	RefreshBefore time.Duration
	// HTTPClient fetches tokens; default a client with DefaultTokenTimeout. Give it a timeout: a
	// token fetch outlives a cancelled Apply until the client gives up. The GCE metadata server source
	// uses its own client (cloud.google.com/go/compute/metadata) instead.
	HTTPClient *http.Client
	// Logger receives a debug line per token refresh and warnings; nil discards. Tokens and keys are
	// never logged.
	Logger *slog.Logger
}

// GoogleOAuth is an OAuth2 bearer credential for Vertex AI. Apply sets "Authorization: Bearer <token>",
// fetching a fresh access token when the current one is within RefreshBefore of its expiry. It is safe
// for concurrent use: concurrent Applys needing a refresh wait for one shared fetch.
//
// A GoogleOAuth prints, logs and marshals as a description of where its credentials come from; never
// a token or a private key.
type GoogleOAuth struct {
	src       oauth2.TokenSource // golang.org/x/oauth2's caching source, refreshing margin early
	margin    time.Duration      // RefreshBefore, or libraryRefreshBefore when src cannot be given it
	current   atomic.Pointer[oauth2.Token]
	recentMu  sync.Mutex
	recent    []string // the access tokens made current lately, newest first; see Secrets
	source    string   // e.g. `service account "sa@p.iam.gserviceaccount.com" from file "/etc/sa.json"`
	projectID string
	logger    *slog.Logger
}

// NewGoogleOAuth loads the credentials cfg names and fetches a first access token, so that a wrong key
// or an unreachable token endpoint fails here, at startup, rather than on the first request. ctx bounds
// that first fetch only: it is not kept (see load for the context golang.org/x/oauth2 keeps).
//
// An explicit CredentialsFile must be a service-account key; anything else is ErrInvalidCredentials.
// Errors name the file and the field at fault and never contain the private key or a token.
func NewGoogleOAuth(ctx context.Context, cfg GoogleOAuthConfig) (*GoogleOAuth, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &GoogleOAuth{margin: cfg.RefreshBefore, logger: cfg.Logger}
	if err := g.load(cfg); err != nil {
		return nil, err
	}
	if _, err := g.token(ctx); err != nil {
		return nil, fmt.Errorf("google oauth (%s): %w", g.source, err)
	}
	g.logger.Info("google oauth credentials loaded", "credentials", g.source)
	return g, nil
}

func (cfg GoogleOAuthConfig) withDefaults() (GoogleOAuthConfig, error) {
	if cfg.RefreshBefore < 0 {
		return cfg, fmt.Errorf("%w: RefreshBefore %s is negative", ErrInvalidConfig, cfg.RefreshBefore)
	}
	if cfg.RefreshBefore == 0 {
		cfg.RefreshBefore = DefaultRefreshBefore
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{CloudPlatformScope}
	}
	for i, s := range cfg.Scopes {
		if s == "" {
			return cfg, fmt.Errorf("%w: Scopes[%d] is empty", ErrInvalidConfig, i)
		}
	}
	cfg.Scopes = append([]string(nil), cfg.Scopes...)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTokenTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// Apply sets req's Authorization header to "Bearer <access token>", refreshing the token first when it
// is within RefreshBefore of its expiry. A failed refresh returns a *TokenError and leaves req
// untouched. ctx bounds the wait for a refresh.
func (g *GoogleOAuth) Apply(ctx context.Context, req *http.Request) error {
	if req == nil {
		return ErrNilRequest
	}
	if g == nil || g.src == nil {
		return ErrNoCredential
	}
	tok, err := g.token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set(HeaderAuthorization, "Bearer "+tok.AccessToken)
	return nil
}

// ProjectID returns the Google Cloud project the credentials belong to ("project_id" of the file, or
// the metadata server's project), or "" when they do not say.
func (g *GoogleOAuth) ProjectID() string {
	if g == nil {
		return ""
	}
	return g.projectID
}

type fetched struct {
	tok *oauth2.Token
	err error
}

// token returns a token with more than margin left. The fetch runs in its own goroutine because
// oauth2.TokenSource.Token takes no context: this way ctx still ends the wait at once. The goroutine
// ends when the fetch does, which the token HTTP client's timeout bounds, and its token is not lost:
// the library's cache keeps it for the next call.
func (g *GoogleOAuth) token(ctx context.Context) (*oauth2.Token, error) {
	if tok := g.current.Load(); tok != nil && g.fresh(tok) {
		return tok, nil
	}
	if ctx.Err() != nil {
		return nil, &TokenError{Err: context.Cause(ctx)}
	}
	done := make(chan fetched, 1)
	go func() {
		tok, err := g.src.Token()
		done <- fetched{tok, err}
	}()
	select {
	case f := <-done:
		return g.accept(f.tok, f.err)
	case <-ctx.Done():
		return nil, &TokenError{Err: context.Cause(ctx)}
	}
}

// accept checks a fetched token and makes it current.
func (g *GoogleOAuth) accept(tok *oauth2.Token, err error) (*oauth2.Token, error) {
	if err != nil {
		return nil, newTokenError(err)
	}
	if tok == nil || !isKeyText(tok.AccessToken) {
		return nil, &TokenError{Err: ErrMalformedToken}
	}
	if old := g.current.Swap(tok); old != tok {
		g.remember(tok.AccessToken)
		g.logger.Debug("google access token refreshed", "credentials", g.source, "expires_in", expiresIn(tok))
	}
	return tok, nil
}

// remember notes a new current access token for Secrets.
func (g *GoogleOAuth) remember(token string) {
	g.recentMu.Lock()
	defer g.recentMu.Unlock()
	if len(g.recent) > 0 && g.recent[0] == token {
		return
	}
	g.recent = append([]string{token}, g.recent[:min(len(g.recent), recentTokens-1)]...)
}

// Secrets returns the access tokens Apply has put on requests lately, newest first: the current
// one and the two it replaced before, since an upstream's answer to a request sent before a
// refresh may echo the older one. The upstream package scrubs them from upstream text; the caller
// must never log or return what it gets. It returns nil for a zero GoogleOAuth.
func (g *GoogleOAuth) Secrets() []string {
	if g == nil {
		return nil
	}
	g.recentMu.Lock()
	defer g.recentMu.Unlock()
	return slices.Clone(g.recent)
}

func (g *GoogleOAuth) fresh(tok *oauth2.Token) bool {
	return tok.Expiry.IsZero() || time.Until(tok.Expiry) > g.margin
}

// expiresIn is how long tok has left, rounded to the second, or "never".
func expiresIn(tok *oauth2.Token) string {
	if tok.Expiry.IsZero() {
		return "never"
	}
	return time.Until(tok.Expiry).Round(time.Second).String()
}

// String describes where g's credentials come from.
func (g *GoogleOAuth) String() string {
	if g == nil {
		return "auth.GoogleOAuth{<nil>}"
	}
	return "auth.GoogleOAuth{" + g.source + "}"
}

// GoString is String.
func (g *GoogleOAuth) GoString() string { return g.String() }

// Format prints g's description for every verb.
func (g *GoogleOAuth) Format(f fmt.State, _ rune) { writeSafe(f, g.String()) }

// LogValue logs g's description.
func (g *GoogleOAuth) LogValue() slog.Value { return slog.StringValue(g.String()) }

// MarshalJSON encodes g's description as a JSON string.
func (g *GoogleOAuth) MarshalJSON() ([]byte, error) { return json.Marshal(g.String()) }

// TokenError reports a failed access-token fetch. Its message gives the token endpoint's HTTP status
// and OAuth2 error code only: the response body is dropped, since an endpoint (or a proxy in front of
// it) may echo the signed assertion or other secrets back.
type TokenError struct {
	// StatusCode is the token endpoint's HTTP status, or 0 when no HTTP error status arrived.
	StatusCode int
	// Code is the OAuth2 "error" field of the answer ("invalid_grant"), when it is a plain identifier.
	Code string
	// Err is the cause when no HTTP error status arrived: a transport error, a context error,
	// ErrMalformedToken. Nil otherwise.
	Err error
}

// Error implements error.
func (e *TokenError) Error() string {
	if e.StatusCode == 0 {
		return "fetch access token: " + fmt.Sprint(e.Err)
	}
	s := "fetch access token: token endpoint answered " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	return s
}

// Unwrap returns Err.
func (e *TokenError) Unwrap() error { return e.Err }
