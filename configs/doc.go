// Package configs owns streamgate's configuration file: the YAML schema, its defaults, ${VAR}
// expansion from the environment, and validation.
//
// Load and Parse start from Default, so a file holds only what it changes; Validate checks a
// Config however it was built. Every problem is reported at once as a *FieldError that names the
// setting ("upstream.retry.max_attempts") and its line, and matches ErrInvalid; the gateway's
// command prints them and exits with code 2. The settings are documented key by key in
// configs/README.md, and configs/streamgate.yaml is the file `go run ./cmd/streamgate` loads.
//
// # Decoding
//
// Decoding is strict: an unknown key, a duplicate key, a merge key (<<), a list where a mapping
// belongs, or 1.5 where an integer belongs is an error. Durations are Go duration strings with a
// unit ("15s", "5m", "0s"). A key written with no value (or null) keeps its default. The YAML
// parser is go.yaml.in/yaml/v3; binding the parsed nodes onto the Go types is done here, so that
// errors name settings instead of Go types and never quote a value.
//
// # Environment variables
//
// ${NAME} and ${NAME:-default} are expanded inside scalar values after the YAML is parsed, so a
// variable's value can never add keys or structure. ${NAME:-default} gives default when NAME is
// unset or empty; ${NAME} with NAME unset is an error naming the variable and the setting; $${ is
// a literal ${. Keys are never expanded. An expanded unquoted value takes the type its text reads
// as (max_streams: ${MAX_STREAMS} gives an integer); a quoted one stays a string.
//
// # Zero values
//
// Defaults are filled in by Default, so zero never means "the default" in a Config: it means
// what the setting says (heartbeat 0 disables pings, orphan_grace 0 cancels at once,
// limits.rate.per_key_rps 0 disables rate limiting, upstream.retry.max_elapsed 0 sets no time
// bound). Settings whose zero would be ambiguous downstream must be positive. That includes
// manager.inactivity_timeout, which the manager reads as "use the default" when zero: it is
// disabled by writing off (omitted, it is 5m; 0s and negative values are errors), which sets
// Manager.InactivityTimeout to Off, the value of manager.NoTimeout, so it can be passed on as it
// is. An empty cluster.redis_url, the default, means what it says too: cluster mode is off.
//
// # Secrets
//
// The Gemini API key, client keys, stream token secrets (auth.token_secret, a Secrets list that
// a file may also write as one scalar), SSE header values and cluster.redis_url (it holds the
// Redis password) are Secrets: they print as
// [redacted] with any fmt verb and in JSON. Config.String renders the whole configuration as YAML with
// those and every plugin config value redacted. No error message contains a setting's value.
//
// Package configs imports nothing else from streamgate and must never import gateway: the
// command converts these types into each package's own Config.
package configs
