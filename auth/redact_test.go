package auth_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// renderings returns v as every channel a secret could leak through prints it: fmt verbs, fmt inside
// an error, log/slog text and JSON handlers, and encoding/json, each alone and as a struct field.
func renderings(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
		out["fmt "+verb] = fmt.Sprintf(verb, v)
		out["fmt field "+verb] = fmt.Sprintf(verb, struct{ Secret any }{v})
	}
	out["error"] = fmt.Errorf("apply credential %v: %w", v, fmt.Errorf("cause")).Error()
	out["print"] = fmt.Sprint(v) + fmt.Sprintln(v)
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"slog json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("credential", "value", v, slog.Any("field", struct{ Secret any }{v}))
		log.With("with", v).Warn("again", slog.Group("group", "value", v))
		out[name] = buf.String()
	}
	b, err := json.Marshal(v)
	require.NoError(t, err)
	out["json"] = string(b)
	b, err = json.Marshal(map[string]any{"nested": struct{ Secret any }{v}})
	require.NoError(t, err)
	out["json field"] = string(b)
	return out
}

// requireNoSecret renders v every way renderings knows and fails if any output contains a secret.
func requireNoSecret(t *testing.T, v any, secrets ...string) {
	t.Helper()
	for how, s := range renderings(t, v) {
		for _, secret := range secrets {
			require.NotContains(t, s, secret, "secret leaked through %s", how)
		}
	}
}
