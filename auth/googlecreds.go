package auth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// serviceAccountType is the "type" of a service-account key file.
const serviceAccountType = "service_account"

// libraryRefreshBefore is how long before its expiry golang.org/x/oauth2's caching token source
// replaces a token when not told otherwise (its unexported defaultExpiryDelta).
const libraryRefreshBefore = 10 * time.Second

// load finds the credentials cfg names and sets g's token source, description and project.
//
// golang.org/x/oauth2 keeps the context it is given inside its token sources and uses it for every
// later refresh, so it gets a context built from context.Background() whose only job is to carry the
// token HTTP client (the oauth2.HTTPClient value): a caller's context would break every refresh after
// it ends. No context is stored in GoogleOAuth itself.
func (g *GoogleOAuth) load(cfg GoogleOAuthConfig) error {
	libCtx := context.WithValue(context.Background(), oauth2.HTTPClient, cfg.HTTPClient)
	if cfg.CredentialsFile != "" {
		data, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return fmt.Errorf("read google credentials file: %w", err)
		}
		where := "file " + strconv.Quote(cfg.CredentialsFile)
		return g.useServiceAccount(libCtx, data, where, cfg)
	}
	creds, err := google.FindDefaultCredentialsWithParams(libCtx, google.CredentialsParams{
		Scopes:            cfg.Scopes,
		EarlyTokenRefresh: cfg.RefreshBefore,
	})
	if err != nil {
		return fmt.Errorf("find google application default credentials: %w", err)
	}
	if creds.JSON == nil {
		g.source = "application default credentials from the metadata server"
		g.projectID = creds.ProjectID
		g.src = creds.TokenSource // EarlyTokenRefresh gave it the RefreshBefore margin
		return nil
	}
	var head struct {
		Type string `json:"type"`
	}
	// The library has parsed creds.JSON already, so this cannot fail.
	_ = json.Unmarshal(creds.JSON, &head)
	if head.Type == serviceAccountType {
		return g.useServiceAccount(libCtx, creds.JSON, "application default credentials", cfg)
	}
	// Other types come wrapped by the library in a second cache that refreshes 10 s before expiry and
	// cannot be reached to change that, so RefreshBefore cannot take effect. g's margin follows the
	// library's: with RefreshBefore, every Apply in a token's last minutes would ask the library for a
	// token and get the same one back.
	g.source = "application default credentials of type " + strconv.Quote(head.Type)
	g.projectID = creds.ProjectID
	g.src = creds.TokenSource
	g.margin = libraryRefreshBefore
	g.logger.Warn("RefreshBefore does not apply to these credentials; tokens are refreshed 10s before expiry",
		"credentials", g.source)
	return nil
}

// useServiceAccount builds g's token source from a service-account key file. jwt.Config.TokenSource
// is the library's caching source itself, so ReuseTokenSourceWithExpiry sets its refresh margin
// rather than stacking a second cache (CredentialsFromJSON's source would hide its cache behind an
// error-wrapping layer that keeps the default 10 s margin).
func (g *GoogleOAuth) useServiceAccount(libCtx context.Context, data []byte, where string, cfg GoogleOAuthConfig) error {
	sa, err := parseServiceAccount(data)
	if err != nil {
		return fmt.Errorf("google credentials (%s): %w", where, err)
	}
	jc, err := google.JWTConfigFromJSON(data, cfg.Scopes...)
	if err != nil {
		return fmt.Errorf("google credentials (%s): %w: %w", where, ErrInvalidCredentials, err)
	}
	g.source = "service account " + strconv.Quote(sa.ClientEmail) + " from " + where
	g.projectID = sa.ProjectID
	g.src = oauth2.ReuseTokenSourceWithExpiry(nil, jc.TokenSource(libCtx), cfg.RefreshBefore)
	return nil
}

// serviceAccountFile holds the fields of a service-account key file that are checked before use.
type serviceAccountFile struct {
	Type        string `json:"type"`
	ProjectID   string `json:"project_id"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// parseServiceAccount checks a service-account key file. Its errors wrap ErrInvalidCredentials, name
// the field at fault and quote none of the file's content except "type".
func parseServiceAccount(data []byte) (serviceAccountFile, error) {
	var f serviceAccountFile
	if err := json.Unmarshal(data, &f); err != nil {
		return f, unmarshalError(err)
	}
	return f, f.check()
}

// unmarshalError says why a key file did not decode, without quoting it.
func unmarshalError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("%w: not valid JSON (syntax error at byte %d)", ErrInvalidCredentials, syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("%w: field %q has the wrong JSON type", ErrInvalidCredentials, typ.Field)
	default:
		return fmt.Errorf("%w: not a JSON object", ErrInvalidCredentials)
	}
}

// check reports the first field of f that is missing or malformed, in the file's usual order.
func (f serviceAccountFile) check() error {
	if f.Type != serviceAccountType {
		return fmt.Errorf("%w: type is %q, want %q", ErrInvalidCredentials, f.Type, serviceAccountType)
	}
	if f.ClientEmail == "" {
		return fmt.Errorf("%w: client_email is missing", ErrInvalidCredentials)
	}
	if f.PrivateKey == "" {
		return fmt.Errorf("%w: private_key is missing", ErrInvalidCredentials)
	}
	if !isPrivateKey(f.PrivateKey) {
		return fmt.Errorf("%w: private_key is not a PEM-encoded PKCS #8 or PKCS #1 RSA key", ErrInvalidCredentials)
	}
	if f.TokenURI != "" && !isHTTPURL(f.TokenURI) {
		return fmt.Errorf("%w: token_uri is not an http(s) URL", ErrInvalidCredentials)
	}
	return nil
}

// isHTTPURL reports whether s is an http or https URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func isPrivateKey(s string) bool {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return false
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return true
	}
	_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	return err == nil
}

// newTokenError turns an error of golang.org/x/oauth2 into a *TokenError, dropping any response body.
func newTokenError(err error) *TokenError {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return &TokenError{Err: err}
	}
	te := &TokenError{Code: re.ErrorCode}
	if re.Response != nil {
		te.StatusCode = re.Response.StatusCode
	}
	if te.Code == "" {
		var body struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(re.Body, &body) == nil {
			te.Code = body.Error
		}
	}
	if !isErrorCode(te.Code) {
		te.Code = ""
	}
	if te.StatusCode == 0 {
		te.Err = errors.New("token endpoint refused the request")
	}
	return te
}

// isErrorCode reports whether s looks like an RFC 6749 error code ("invalid_grant"): at most 40
// lowercase letters and underscores, so that it cannot carry a key or token an endpoint echoed back.
func isErrorCode(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && s[i] != '_' {
			return false
		}
	}
	return true
}
