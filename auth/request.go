package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Where a client may present its key.
const (
	// HeaderAPIKey is the header the official Gemini SDKs send.
	HeaderAPIKey = "X-Goog-Api-Key"
	// HeaderAuthorization carries "Bearer <key>" (OpenAI-style clients, curl users).
	HeaderAuthorization = "Authorization"
	// QueryAPIKey is the query parameter Gemini's REST API accepts, and the only way a browser
	// EventSource, which cannot set headers, can present a key.
	QueryAPIKey = "key"
	// QueryToken is the query parameter a stream token is presented in: a browser EventSource
	// cannot set an Authorization header.
	QueryToken = "token"
)

// tokenKeyIDPrefix starts the Identity.KeyID of a request authenticated by a stream token. "/" is
// not allowed in a key ID, so no configured key can share it.
const tokenKeyIDPrefix = "token/"

// KeyFromRequest returns the API key r presents.
//
// It reads every place a key may be: each x-goog-api-key header, each Authorization header (which must
// be "Bearer <key>", scheme in any case, else ErrMalformedAuthorization), and each ?key= parameter.
// There is no precedence: all the non-empty values found must be the same key, or the request is
// rejected with ErrAmbiguousKey, so that no component can authenticate one key while another acts on
// a different one. Empty values count as absent; no key at all gives ErrNoKey.
func KeyFromRequest(r *http.Request) (string, error) {
	if r == nil {
		return "", ErrNoKey
	}
	var key presented
	if err := key.add(r.Header.Values(HeaderAPIKey)...); err != nil {
		return "", err
	}
	if err := key.addBearers(r.Header.Values(HeaderAuthorization)); err != nil {
		return "", err
	}
	if r.URL != nil && queryMayHold(r.URL.RawQuery, QueryAPIKey) {
		if err := key.add(r.URL.Query()[QueryAPIKey]...); err != nil {
			return "", err
		}
	}
	if key == "" {
		return "", ErrNoKey
	}
	return string(key), nil
}

// TokenFromRequest returns the stream token r presents as ?token=, or "" when it presents none.
// Every non-empty value must be the same token, else the error is ErrAmbiguousKey. A token sent as
// Authorization: Bearer cannot be told from a key by its place; AuthenticateRead handles it.
func TokenFromRequest(r *http.Request) (string, error) {
	if r == nil || r.URL == nil || !queryMayHold(r.URL.RawQuery, QueryToken) {
		return "", nil
	}
	var tok presented
	if err := tok.add(r.URL.Query()[QueryToken]...); err != nil {
		return "", err
	}
	return string(tok), nil
}

// presented is the one credential a request presents, gathered from every place it may be: ""
// until a non-empty value is added.
type presented string

// add adds values in order, skipping empty ones; the first that differs from the credential so
// far gives ErrAmbiguousKey.
func (p *presented) add(values ...string) error {
	for _, v := range values {
		switch {
		case v == "":
		case *p != "" && string(*p) != v:
			return ErrAmbiguousKey
		default:
			*p = presented(v)
		}
	}
	return nil
}

// addBearers adds the credential of each Authorization header value in order, stopping at the
// first error: ErrMalformedAuthorization for a value that is not "Bearer <key>", or ErrAmbiguousKey.
func (p *presented) addBearers(headers []string) error {
	for _, h := range headers {
		tok, err := bearerToken(h)
		if err != nil {
			return err
		}
		if err := p.add(tok); err != nil {
			return err
		}
	}
	return nil
}

// AuthenticateRequest reads the key r presents (see KeyFromRequest) and matches it in kr. Its errors
// are ErrNoKey, ErrAmbiguousKey, ErrMalformedAuthorization and ErrUnknownKey; each is fit for the
// client's 401 message and none contains the key. On an empty keyring every request fails.
//
// It is the check of every route but the two a stream token opens (see AuthenticateRead), so a
// stream token here is refused as a wrong key: as a Bearer it matches no key, and a request whose
// only credential is ?token= gets ErrUnknownKey too, not ErrNoKey.
func (kr *Keyring) AuthenticateRequest(r *http.Request) (Identity, error) {
	key, err := KeyFromRequest(r)
	if errors.Is(err, ErrNoKey) {
		if tok, terr := TokenFromRequest(r); terr == nil && tok != "" {
			return Identity{}, fmt.Errorf("%w: a stream token opens only its stream's events and info", ErrUnknownKey)
		}
	}
	if err != nil {
		return Identity{}, err
	}
	id, ok := kr.Authenticate(key)
	if !ok {
		return Identity{}, ErrUnknownKey
	}
	return id, nil
}

// AuthenticateRead authenticates a request that reads stream streamID: GET /v1/streams/{id}/events
// and GET /v1/streams/{id}, the only routes a stream token opens. It accepts a key as
// AuthenticateRequest does, and a stream token for streamID verified by t (a nil t verifies none):
//
//   - as ?token=: the token alone authenticates the request. A key presented as well
//     (x-goog-api-key, ?key=, or a Bearer other than the token itself) is ErrAmbiguousKey, so that
//     no component can act on a key while the token decided access.
//   - as Authorization: Bearer, where a key goes too: the value is matched against kr first, and
//     verified as a token only when it is no key.
//
// A refused token gives an error matching both ErrUnknownKey and ErrInvalidToken (its reason, for a
// log line), so the client gets exactly the answer of a wrong key. The identity of a token is its
// tenant, with KeyID "token/" + tenant: requests authenticated by a tenant's tokens share a rate
// limit, and no configured key ID can look like one. Errors never contain a key or a token.
func (kr *Keyring) AuthenticateRead(r *http.Request, t *Tokens, streamID string) (Identity, error) {
	tok, err := TokenFromRequest(r)
	if err != nil {
		return Identity{}, err
	}
	key, err := KeyFromRequest(r)
	if tok != "" {
		switch {
		case err == nil && key != tok:
			return Identity{}, ErrAmbiguousKey
		case err != nil && !errors.Is(err, ErrNoKey):
			return Identity{}, err
		}
		return tokenIdentity(t, tok, streamID)
	}
	if err != nil {
		return Identity{}, err
	}
	if id, ok := kr.Authenticate(key); ok {
		return id, nil
	}
	if !presentsBearer(r, key) {
		return Identity{}, ErrUnknownKey
	}
	return tokenIdentity(t, key, streamID)
}

// tokenIdentity verifies tok for streamID and returns the identity it grants.
func tokenIdentity(t *Tokens, tok, streamID string) (Identity, error) {
	g, err := t.Verify(tok, streamID)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnknownKey, err)
	}
	return Identity{KeyID: tokenKeyIDPrefix + g.Tenant, Tenant: g.Tenant}, nil
}

// presentsBearer reports whether r carries v as Authorization: Bearer.
func presentsBearer(r *http.Request, v string) bool {
	for _, h := range r.Header.Values(HeaderAuthorization) {
		if tok, err := bearerToken(h); err == nil && tok == v {
			return true
		}
	}
	return false
}

// StripKey removes every presented key and stream token from r: the x-goog-api-key and Authorization
// headers and the ?key= and ?token= parameters (rewriting URL.RawQuery and RequestURI). Call it once the request is authenticated
// and before anything logs, copies or forwards r, so the client's key or token goes no further. It does not
// touch r.Form or caches built from the query earlier (gin's c.Query): call it before those exist.
func StripKey(r *http.Request) {
	if r == nil {
		return
	}
	r.Header.Del(HeaderAPIKey)
	r.Header.Del(HeaderAuthorization)
	if r.URL == nil || !queryMayHold(r.URL.RawQuery, QueryAPIKey, QueryToken) {
		return
	}
	q := r.URL.Query()
	if !q.Has(QueryAPIKey) && !q.Has(QueryToken) {
		return
	}
	q.Del(QueryAPIKey)
	q.Del(QueryToken)
	r.URL.RawQuery = q.Encode()
	if r.RequestURI != "" {
		r.RequestURI = r.URL.RequestURI()
	}
}

// bearerToken returns the credential of an Authorization header value: "" for an empty value, an
// error for anything but a single-token Bearer credential.
func bearerToken(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMalformedAuthorization
	}
	tok = strings.Trim(tok, " ")
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", ErrMalformedAuthorization
	}
	return tok, nil
}

// queryMayHold reports whether a raw query can hold one of the parameters names: one spelled out,
// or any percent-encoding, which could spell one. The rest (alt=sse on every Gemini stream) is
// not parsed, which allocates, only to find none of them.
func queryMayHold(rawQuery string, names ...string) bool {
	if strings.IndexByte(rawQuery, '%') >= 0 {
		return true
	}
	for _, name := range names {
		if strings.Contains(rawQuery, name) {
			return true
		}
	}
	return false
}
