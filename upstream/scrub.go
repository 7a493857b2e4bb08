package upstream

import (
	"bytes"
	"cmp"
	"net/url"
	"slices"
	"strings"
)

// Redacted replaces each of the gateway's own upstream credentials found in upstream text.
const Redacted = "[redacted]"

// minSecretLen is the length of the shortest value scrubbed. A shorter configured value (an SSE
// header "X-Version: 2", a query "stream=true") is no credential, and replacing it everywhere
// would garble every message.
const minSecretLen = 8

// SecretReporter is implemented by a Credential or a Provider that can name the secret values it
// puts on requests, so that upstream text echoing one can be scrubbed: an upstream error quoting
// the API key it refused, a proxy quoting the Authorization header. auth.APIKey and
// auth.GoogleOAuth implement it, and so do the Gemini and Vertex providers (their credential's
// secrets) and the generic SSE provider (its configured header values).
type SecretReporter interface {
	// Secrets returns the secrets the value puts on requests now, and those it put lately when they
	// rotate (an OAuth token replaced while a request made with it is still out). It is called
	// only when upstream text becomes an error, and must be safe for concurrent use.
	Secrets() []string
}

// secrets returns the provider's secrets worth scrubbing, longest first so that a secret holding
// another ("Bearer t0ken" and "t0ken") is replaced whole.
func (r *Runner) secrets() []string {
	sr, ok := r.provider.(SecretReporter)
	if !ok {
		return nil
	}
	all := slices.DeleteFunc(sr.Secrets(), func(s string) bool { return len(s) < minSecretLen })
	slices.SortFunc(all, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return slices.Compact(all)
}

// scrub replaces the gateway's own upstream credentials with Redacted in what f carries from the
// upstream: its error's message, status and Raw (built from an error body, an error event or a
// transport error, whose text may quote what the server received) and the error body Generate
// passes through. Every failure goes through it before a Decider, a log line or a caller sees it.
//
// Ordinary data chunks are not scrubbed: that would search every secret through every byte of
// every event on the hot path, for text that is the model's output rather than the upstream
// describing the gateway's request, which is where a credential gets echoed.
func (r *Runner) scrub(f *failure) {
	secrets := r.secrets()
	if len(secrets) == 0 {
		return
	}
	se := *f.err
	se.Message = scrubString(se.Message, secrets)
	se.Status = scrubString(se.Status, secrets)
	se.Raw = scrubBytes(se.Raw, secrets)
	f.err = &se
	f.body = scrubBytes(f.body, secrets)
}

// scrubBytes is scrubString for a body: b itself when it holds no secret, else a copy without
// them, so that a body shared with the unscrubbed failure is never changed in place.
func scrubBytes(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte(Redacted))
		}
	}
	return b
}

func scrubString(text string, secrets []string) string {
	for _, s := range secrets {
		text = strings.ReplaceAll(text, s, Redacted)
	}
	return text
}

// credentialSecrets returns cred's secrets, when it can name them.
func credentialSecrets(cred Credential) []string {
	if sr, ok := cred.(SecretReporter); ok {
		return sr.Secrets()
	}
	return nil
}

// querySecrets returns the values of u's query parameters: a configured URL may carry a key there
// (?key= on a proxy in front of Gemini).
func querySecrets(u *url.URL) []string {
	var out []string
	for _, values := range u.Query() {
		out = append(out, values...)
	}
	return out
}
