package auth

import "errors"

// Sentinel errors. Match them with errors.Is; none of their messages, nor any message wrapping them in
// this package, contains a key or a token.
var (
	// ErrInvalidKey is wrapped by every *KeyError NewKeyring returns.
	ErrInvalidKey = errors.New("invalid gateway key")
	// ErrNoKey is returned when a request presents no API key at all.
	ErrNoKey = errors.New("no API key presented")
	// ErrAmbiguousKey is returned when a request presents two different API keys (in two places, or
	// twice in one place), two different stream tokens, or a stream token beside a key.
	ErrAmbiguousKey = errors.New("different API keys presented in one request")
	// ErrMalformedAuthorization is returned for an Authorization header that is not "Bearer <key>".
	ErrMalformedAuthorization = errors.New("authorization header is not a Bearer token")
	// ErrUnknownKey is returned when the presented key matches no configured key.
	ErrUnknownKey = errors.New("API key not valid")

	// ErrInvalidAPIKey is returned by NewAPIKey for an empty key or one with spaces or control characters.
	ErrInvalidAPIKey = errors.New("invalid upstream API key: want non-empty printable ASCII without spaces")
	// ErrInvalidConfig is wrapped by configuration errors of the upstream credential constructors.
	ErrInvalidConfig = errors.New("invalid credential config")
	// ErrInvalidCredentials is wrapped by errors about the content of a Google credentials file.
	ErrInvalidCredentials = errors.New("invalid google credentials")
	// ErrMalformedToken is wrapped when a token endpoint answers 2xx without a usable access token.
	ErrMalformedToken = errors.New("token endpoint returned no usable access token")
	// ErrNilRequest is returned by Apply when given a nil request.
	ErrNilRequest = errors.New("nil request")
	// ErrNoCredential is returned by Apply on a nil or zero credential (one not made by its constructor).
	ErrNoCredential = errors.New("credential not initialised: use its constructor")

	// ErrInvalidToken is wrapped by every error of Tokens.Verify: the token is refused, whatever the
	// reason. A client should be answered exactly as for an unknown key (see AuthenticateRead).
	ErrInvalidToken = errors.New("invalid stream token")
	// ErrInvalidTTL is wrapped by Tokens.Mint for a lifetime below a second or above the maximum.
	ErrInvalidTTL = errors.New("invalid stream token lifetime")
	// ErrInvalidGrant is wrapped by Tokens.Mint for a stream ID or tenant a token cannot carry.
	ErrInvalidGrant = errors.New("invalid stream token grant")
	// ErrTokensOff is returned by the methods of a nil *Tokens, the value for "no auth.token_secret":
	// its message is fit for the client.
	ErrTokensOff = errors.New("stream tokens are not configured: set auth.token_secret")
)
