package auth

import (
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
)

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
	var key string
	add := func(v string) error {
		if v == "" {
			return nil
		}
		if key != "" && key != v {
			return ErrAmbiguousKey
		}
		key = v
		return nil
	}
	for _, v := range r.Header.Values(HeaderAPIKey) {
		if err := add(v); err != nil {
			return "", err
		}
	}
	for _, v := range r.Header.Values(HeaderAuthorization) {
		tok, err := bearerToken(v)
		if err != nil {
			return "", err
		}
		if err := add(tok); err != nil {
			return "", err
		}
	}
	if r.URL != nil {
		for _, v := range r.URL.Query()[QueryAPIKey] {
			if err := add(v); err != nil {
				return "", err
			}
		}
	}
	if key == "" {
		return "", ErrNoKey
	}
	return key, nil
}

// AuthenticateRequest reads the key r presents (see KeyFromRequest) and matches it in kr. Its errors
// are ErrNoKey, ErrAmbiguousKey, ErrMalformedAuthorization and ErrUnknownKey; each is fit for the
// client's 401 message and none contains the key. On an empty keyring every request fails.
func (kr *Keyring) AuthenticateRequest(r *http.Request) (Identity, error) {
	key, err := KeyFromRequest(r)
	if err != nil {
		return Identity{}, err
	}
	id, ok := kr.Authenticate(key)
	if !ok {
		return Identity{}, ErrUnknownKey
	}
	return id, nil
}

// StripKey removes every presented key from r: the x-goog-api-key and Authorization headers and the
// ?key= parameter (rewriting URL.RawQuery and RequestURI). Call it once the request is authenticated
// and before anything logs, copies or forwards r, so the client's key goes no further. It does not
// touch r.Form or caches built from the query earlier (gin's c.Query): call it before those exist.
func StripKey(r *http.Request) {
	if r == nil {
		return
	}
	r.Header.Del(HeaderAPIKey)
	r.Header.Del(HeaderAuthorization)
	if r.URL == nil || r.URL.RawQuery == "" {
		return
	}
	q := r.URL.Query()
	if !q.Has(QueryAPIKey) {
		return
	}
	q.Del(QueryAPIKey)
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
