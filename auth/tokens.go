package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Limits of stream tokens.
const (
	// DefaultTokenTTL is the lifetime of a token minted with ttl 0, and TokenConfig's default.
	DefaultTokenTTL = 10 * time.Minute
	// MaxTokenTTL is TokenConfig's default longest lifetime.
	MaxTokenTTL = 24 * time.Hour
	// MinTokenSecretLen is the shortest secret accepted, in bytes: RFC 7518 section 3.2 requires an
	// HS256 key at least as long as the hash output, 256 bits, because a shorter key is easier to
	// find than the hash is to break, and an HS256 token is an offline oracle for it.
	MinTokenSecretLen = 32
	// TokenScopeRead is the one scope a stream token carries: read the stream's events and info.
	TokenScopeRead = "read"

	// maxTokenLen bounds the text Verify parses. A minted token is about 250 bytes; the bound
	// leaves room for offline minters' extra claims and refuses megabytes of query string cheaply.
	maxTokenLen = 4096
	// tokenAlg is the only algorithm minted or accepted.
	tokenAlg = "HS256"
)

// The errors of Verify. Each is a fixed value, so that no message can ever contain any part of the
// token presented (neither do golang-jwt's, which quote JSON decoding errors, reach the caller).
var (
	errTokenOff       = fmt.Errorf("%w: %w", ErrInvalidToken, ErrTokensOff)
	errTokenMalformed = fmt.Errorf("%w: malformed", ErrInvalidToken)
	errTokenAlg       = fmt.Errorf("%w: algorithm not accepted (want %s)", ErrInvalidToken, tokenAlg)
	errTokenSignature = fmt.Errorf("%w: signature does not match", ErrInvalidToken)
	errTokenExpired   = fmt.Errorf("%w: expired", ErrInvalidToken)
	errTokenNotYet    = fmt.Errorf("%w: not valid yet (nbf)", ErrInvalidToken)
	errTokenNoExp     = fmt.Errorf("%w: no exp claim", ErrInvalidToken)
	errTokenNoIat     = fmt.Errorf("%w: no iat claim", ErrInvalidToken)
	errTokenNoSub     = fmt.Errorf("%w: no sub claim", ErrInvalidToken)
	errTokenNoTenant  = fmt.Errorf("%w: no tenant claim", ErrInvalidToken)
	errTokenBadTenant = fmt.Errorf("%w: tenant claim is not a valid tenant name", ErrInvalidToken)
	errTokenScope     = fmt.Errorf("%w: scope claim is not %q", ErrInvalidToken, TokenScopeRead)
	errTokenStream    = fmt.Errorf("%w: granted for another stream", ErrInvalidToken)
	errTokenLifetime  = fmt.Errorf("%w: lifetime (exp - iat) longer than the maximum", ErrInvalidToken)
	errTokenOther     = fmt.Errorf("%w: refused by the JWT parser", ErrInvalidToken)
)

// TokenConfig configures Tokens. It prints, logs and marshals without its secrets.
type TokenConfig struct {
	// Secrets are the HMAC keys, each at least MinTokenSecretLen bytes, used as they are (not
	// decoded from base64 or hex). The first signs new tokens; every one verifies, so a secret can be
	// rotated without refusing the tokens already out: put the new one first, and drop the old one
	// once the longest lifetime has passed (docs/tokens.md gives the order for a cluster). At least
	// one is required.
	Secrets [][]byte
	// Now is the clock of Mint and Verify; nil means time.Now.
	Now func() time.Time
	// DefaultTTL is the lifetime of a token minted with ttl 0; 0 means DefaultTokenTTL.
	DefaultTTL time.Duration
	// MaxTTL is the longest lifetime Mint grants and Verify accepts (exp - iat); 0 means MaxTokenTTL.
	MaxTTL time.Duration
}

// String describes c without its secrets.
func (c TokenConfig) String() string {
	return "auth.TokenConfig{Secrets:" + strconv.Itoa(len(c.Secrets)) + "x" + Redacted +
		", DefaultTTL:" + c.DefaultTTL.String() + ", MaxTTL:" + c.MaxTTL.String() + "}"
}

// GoString describes c without its secrets.
func (c TokenConfig) GoString() string { return c.String() }

// Format prints c's description for every verb.
func (c TokenConfig) Format(f fmt.State, _ rune) { writeSafe(f, c.String()) }

// LogValue logs the number of secrets and the lifetimes.
func (c TokenConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("secrets", len(c.Secrets)),
		slog.Duration("default_ttl", c.DefaultTTL),
		slog.Duration("max_ttl", c.MaxTTL),
	)
}

// MarshalJSON encodes the number of secrets and the lifetimes.
func (c TokenConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"secrets":     len(c.Secrets),
		"default_ttl": c.DefaultTTL.String(),
		"max_ttl":     c.MaxTTL.String(),
	})
}

// Tokens mints and verifies stream tokens: JWTs signed with HS256 that grant read access (the
// stream's events and info) to one stream, for its tenant, until they expire. Their claims are
// exactly
//
//	{"sub": "<stream ID>", "tenant": "<tenant>", "scope": "read", "iat": <unix seconds>, "exp": <unix seconds>}
//
// so that a backend holding the secret can mint them offline (docs/tokens.md).
//
// Tokens is immutable and safe for concurrent use. A nil *Tokens stands for "stream tokens are off":
// Mint returns ErrTokensOff and Verify refuses every token. It prints and logs as a description,
// never a secret.
type Tokens struct {
	signing    []byte
	verifying  jwt.VerificationKeySet
	now        func() time.Time
	defaultTTL time.Duration
	maxTTL     time.Duration
	parser     *jwt.Parser
}

// NewTokens validates cfg and builds Tokens. Errors wrap ErrInvalidConfig and never contain a
// secret: no secret, a secret shorter than MinTokenSecretLen, a negative lifetime, a lifetime
// below a second (JWT times are whole seconds), or DefaultTTL above MaxTTL. The secrets are copied.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	if len(cfg.Secrets) == 0 {
		return nil, fmt.Errorf("%w: stream tokens: at least one secret is required", ErrInvalidConfig)
	}
	t := &Tokens{now: cfg.Now, defaultTTL: cfg.DefaultTTL, maxTTL: cfg.MaxTTL}
	for i, s := range cfg.Secrets {
		if len(s) < MinTokenSecretLen {
			return nil, fmt.Errorf("%w: stream tokens: secret[%d] is shorter than %d bytes", ErrInvalidConfig, i, MinTokenSecretLen)
		}
		t.verifying.Keys = append(t.verifying.Keys, append([]byte(nil), s...))
	}
	t.signing = t.verifying.Keys[0].([]byte)
	if t.now == nil {
		t.now = time.Now
	}
	if t.defaultTTL == 0 {
		t.defaultTTL = DefaultTokenTTL
	}
	if t.maxTTL == 0 {
		t.maxTTL = MaxTokenTTL
	}
	switch {
	case t.defaultTTL < time.Second || t.maxTTL < time.Second:
		return nil, fmt.Errorf("%w: stream tokens: DefaultTTL and MaxTTL must be at least 1s", ErrInvalidConfig)
	case t.defaultTTL > t.maxTTL:
		return nil, fmt.Errorf("%w: stream tokens: DefaultTTL %s is above MaxTTL %s", ErrInvalidConfig, t.defaultTTL, t.maxTTL)
	}
	t.parser = jwt.NewParser(
		// Only HS256: refuses alg none, the other HMACs and every public-key algorithm, including
		// an RS256 header over an HMAC made with the secret (the classic key-confusion attack).
		jwt.WithValidMethods([]string{tokenAlg}),
		jwt.WithTimeFunc(t.now),
		jwt.WithExpirationRequired(),
		// Strict base64 (with isTokenText) gives every signature exactly one spelling, so that
		// only the very text Mint produced verifies.
		jwt.WithStrictDecoding(),
		// No WithLeeway: a token is refused from the second its exp is reached on the verifying
		// replica. No WithIssuedAt either: iat is compared with exp (the lifetime), not with the
		// clock, so a replica whose clock is slightly behind the minting one still accepts a
		// token minted a moment ago.
	)
	return t, nil
}

// streamClaims are the claims of a stream token. RegisteredClaims supplies sub, iat and exp (and
// decodes, and lets the parser check, the other registered claims an offline minter may add).
type streamClaims struct {
	Tenant string `json:"tenant"`
	Scope  string `json:"scope"`
	jwt.RegisteredClaims
}

// Mint returns a token granting read access to stream streamID, for tenant, for ttl (0 means the
// default), and the instant it expires. JWT times are whole seconds: iat is now rounded down, and
// ttl is rounded down to whole seconds, so the token is valid for at most ttl and expiresAt is
// exactly its exp.
//
// A ttl below a second or above the maximum is an error wrapping ErrInvalidTTL, whose message is fit
// for the client. A stream ID that is not 1 to 128 bytes of printable ASCII without spaces, or a
// tenant that is not a valid tenant name (Key.Tenant's rules; the open mode's "" is not one), wraps
// ErrInvalidGrant.
func (t *Tokens) Mint(streamID, tenant string, ttl time.Duration) (token string, expiresAt time.Time, err error) {
	if t == nil {
		return "", time.Time{}, ErrTokensOff
	}
	if ttl == 0 {
		ttl = t.defaultTTL
	}
	switch {
	case ttl < time.Second:
		return "", time.Time{}, fmt.Errorf("%w: ttl %s is shorter than 1s", ErrInvalidTTL, ttl)
	case ttl > t.maxTTL:
		return "", time.Time{}, fmt.Errorf("%w: ttl %s is longer than the maximum %s", ErrInvalidTTL, ttl, t.maxTTL)
	}
	if !isStreamID(streamID) {
		return "", time.Time{}, fmt.Errorf("%w: stream ID must be 1 to 128 bytes of printable ASCII without spaces", ErrInvalidGrant)
	}
	if msg := nameError(tenant); msg != "" {
		return "", time.Time{}, fmt.Errorf("%w: tenant: %s", ErrInvalidGrant, msg)
	}
	iat := t.now().Truncate(time.Second)
	exp := iat.Add(ttl.Truncate(time.Second))
	claims := streamClaims{
		Tenant: tenant,
		Scope:  TokenScopeRead,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   streamID,
			IssuedAt:  jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.signing)
	if err != nil {
		// Signing an HMAC over JSON of strings and integers cannot fail.
		return "", time.Time{}, fmt.Errorf("sign stream token: %w", err)
	}
	return token, exp.UTC(), nil
}

// Grant is what a verified token allows: reading one stream of Tenant until ExpiresAt.
type Grant struct {
	Tenant    string
	ExpiresAt time.Time
}

// Verify checks that token grants read access to stream streamID now, and returns the grant. It
// refuses, with an error wrapping ErrInvalidToken, a token that is malformed or longer than 4 KiB;
// is not signed with HS256 (alg none, HS384, HS512, RS256, ...) by one of the secrets; has expired
// (now is at or after exp; there is no leeway) or is not valid yet (nbf, when present); lacks sub,
// tenant, exp or iat; carries a tenant that is not a valid tenant name; has a scope other than
// "read"; lives longer than the maximum (exp - iat); or was granted for another stream.
//
// Unknown claims are ignored, as RFC 7519 asks. No error message contains any part of the token,
// and which reason applies is meant for logs and tests: the client is answered as for a wrong key.
func (t *Tokens) Verify(token, streamID string) (Grant, error) {
	if t == nil {
		return Grant{}, errTokenOff
	}
	if len(token) > maxTokenLen || !isTokenText(token) {
		return Grant{}, errTokenMalformed
	}
	var c streamClaims
	parsed, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.verifying, nil })
	if err != nil {
		return Grant{}, parseError(parsed, err)
	}
	switch {
	case c.IssuedAt == nil:
		return Grant{}, errTokenNoIat
	case c.Subject == "":
		return Grant{}, errTokenNoSub
	case c.Tenant == "":
		return Grant{}, errTokenNoTenant
	case nameError(c.Tenant) != "":
		return Grant{}, errTokenBadTenant
	case c.Scope != TokenScopeRead:
		return Grant{}, errTokenScope
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > t.maxTTL:
		return Grant{}, errTokenLifetime
	case c.Subject != streamID:
		return Grant{}, errTokenStream
	}
	return Grant{Tenant: c.Tenant, ExpiresAt: c.ExpiresAt.UTC()}, nil
}

// parseError maps an error of golang-jwt's parser to one of Verify's fixed errors.
func parseError(parsed *jwt.Token, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errTokenMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// alg missing, not a string, or not an algorithm golang-jwt knows.
		return errTokenAlg
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if parsed == nil || parsed.Method == nil || parsed.Method.Alg() != tokenAlg {
			return errTokenAlg
		}
		return errTokenSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errTokenNoExp
	case errors.Is(err, jwt.ErrTokenExpired):
		return errTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errTokenNotYet
	}
	// Unreachable with golang-jwt v5.3's validator and these claims; kept so that a new reason in a
	// later version is still a refusal with a fixed message.
	return errTokenOther
}

// String describes t by its number of secrets and its lifetimes.
func (t *Tokens) String() string {
	if t == nil {
		return "auth.Tokens{off}"
	}
	return "auth.Tokens{" + strconv.Itoa(len(t.verifying.Keys)) + " secrets, DefaultTTL:" + t.defaultTTL.String() +
		", MaxTTL:" + t.maxTTL.String() + "}"
}

// Format prints t's description for every verb.
func (t *Tokens) Format(f fmt.State, _ rune) { writeSafe(f, t.String()) }

// LogValue logs t's description.
func (t *Tokens) LogValue() slog.Value { return slog.StringValue(t.String()) }

// MarshalJSON encodes t's description.
func (t *Tokens) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// isTokenText reports whether s is made of base64url characters and dots only. Go's base64 decoder
// skips CR and LF even in strict mode, so without this check a signature with a newline inserted
// would still verify, and the same token would have many spellings.
func isTokenText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isStreamID reports whether s can be a stream ID: 1 to 128 bytes of printable ASCII without
// spaces, the manager's rule (which this package does not import).
func isStreamID(s string) bool {
	return len(s) <= 128 && isKeyText(s)
}
