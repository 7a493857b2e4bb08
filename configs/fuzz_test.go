package configs

import (
	"errors"
	"strings"
	"testing"
)

// marker starts the fuzzed environment value, so that an error quoting it can be recognized.
const marker = "\x07ENV"

// FuzzParse checks that any document and environment value gives a Config that validates or an
// ErrInvalid error that does not quote the environment value, never a panic; and that a Config
// without secrets survives String and Parse unchanged.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc, value string) {
		lookup := env(map[string]string{"V": marker + value})
		cfg, err := Parse([]byte(doc), lookup)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			if !strings.Contains(doc, marker) && strings.Contains(err.Error(), marker) {
				t.Fatalf("error quotes the environment value: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a Config that Validate rejects: %v", err)
		}
		if hasSecrets(cfg) {
			return
		}
		back, err := Parse([]byte(cfg.String()), env(nil))
		if err != nil {
			t.Fatalf("String output does not parse: %v\n%s", err, cfg.String())
		}
		if back.String() != cfg.String() {
			t.Fatalf("round trip changed the Config:\n%s\n---\n%s", cfg.String(), back.String())
		}
	})
}

// hasSecrets reports whether String redacts anything in c.
func hasSecrets(c *Config) bool {
	if c.Upstream.APIKey != "" || len(c.Upstream.SSE.Headers) > 0 || len(c.Auth.TokenSecret) > 0 {
		return true
	}
	for _, k := range c.Auth.Keys {
		if k.Key != "" {
			return true
		}
	}
	for _, p := range c.Plugins {
		if len(p.Config) > 0 {
			return true
		}
	}
	return false
}

// FuzzExpandString checks that expansion never panics, leaves text without ${ alone, and that
// escaping every ${ as $${ makes any text expand to itself.
func FuzzExpandString(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		lookup := env(map[string]string{"A": "a", "EMPTY": ""})
		got, err := expandString(s, lookup)
		if !strings.Contains(s, "${") && (err != nil || got != s) {
			t.Fatalf("expandString(%q) = %q, %v; want it unchanged", s, got, err)
		}
		escaped := strings.ReplaceAll(s, "${", "$${")
		got, err = expandString(escaped, lookup)
		if err != nil || got != s {
			t.Fatalf("expandString(%q) = %q, %v; want %q", escaped, got, err, s)
		}
	})
}
