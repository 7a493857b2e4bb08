package configs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	tokenSecretNew = "hush-new-0123456789abcdef0123456789"
	tokenSecretOld = "hush-old-0123456789abcdef0123456789"
)

func TestParseTokenSecret(t *testing.T) {
	vars := env(map[string]string{"NEW": tokenSecretNew, "OLD": tokenSecretOld, "EMPTY": ""})
	tests := []struct {
		name string
		yaml string
		want Secrets
	}{
		{"absent", "auth:\n  keys: []\n", nil},
		{"one secret", "auth:\n  token_secret: " + tokenSecretNew + "\n", Secrets{tokenSecretNew}},
		{"one from the environment", "auth:\n  token_secret: ${NEW}\n", Secrets{tokenSecretNew}},
		{"quoted", "auth:\n  token_secret: \"${NEW}\"\n", Secrets{tokenSecretNew}},
		{"empty string is off", "auth:\n  token_secret: \"\"\n", nil},
		{"unset variable with default is off", "auth:\n  token_secret: \"${UNSET:-}\"\n", nil},
		{"empty variable is off", "auth:\n  token_secret: ${EMPTY}\n", nil},
		{"null keeps the default", "auth:\n  token_secret: null\n", nil},
		{"empty list is off", "auth:\n  token_secret: []\n", nil},
		{"rotation list", "auth:\n  token_secret: [\"${NEW}\", \"${OLD}\"]\n", Secrets{tokenSecretNew, tokenSecretOld}},
		{"block list", "auth:\n  token_secret:\n    - ${NEW}\n    - ${OLD}\n", Secrets{tokenSecretNew, tokenSecretOld}},
		{"list of one", "auth:\n  token_secret: [\"${NEW}\"]\n", Secrets{tokenSecretNew}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml), vars)
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.Auth.TokenSecret)
			want := Default()
			want.Auth.TokenSecret = tt.want
			assert.Equal(t, want, cfg, "nothing else changes")
		})
	}
}

func TestParseTokenSecretErrors(t *testing.T) {
	const short = "hush-short"
	vars := env(map[string]string{"NEW": tokenSecretNew, "SHORT": short, "EMPTY": "", "NL": tokenSecretNew + "\n"})
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"short", "auth:\n  token_secret: ${SHORT}\n", []string{"line 2: auth.token_secret: " + msgTokenSecretLen}},
		{"31 bytes", "auth:\n  token_secret: " + strings.Repeat("k", 31) + "\n", []string{"line 2: auth.token_secret: " + msgTokenSecretLen}},
		{"a number", "auth:\n  token_secret: 12345\n", []string{"line 2: auth.token_secret: " + msgTokenSecretLen}},
		{"old one short", "auth:\n  token_secret:\n    - ${NEW}\n    - ${SHORT}\n", []string{"line 4: auth.token_secret[1]: " + msgTokenSecretLen}},
		{"empty entry in a list", "auth:\n  token_secret: [\"${NEW}\", \"${EMPTY}\"]\n", []string{"line 2: auth.token_secret[1]: " + msgTokenSecretLen}},
		{"trailing newline", "auth:\n  token_secret: ${NL}\n", []string{
			"line 2: auth.token_secret: must not contain control characters (a newline read from a file, often)"}},
		{"unset variable", "auth:\n  token_secret: ${TOKEN_SECRET}\n", []string{
			"line 2: auth.token_secret: environment variable TOKEN_SECRET is not set (write ${TOKEN_SECRET:-} to allow an empty value)"}},
		{"a mapping", "auth:\n  token_secret: {new: x}\n", []string{"line 2: auth.token_secret: must be a list"}},
		{"a list of lists", "auth:\n  token_secret: [[x]]\n", []string{"line 2: auth.token_secret[0]: must be a string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), vars)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Equal(t, tt.want, errorStrings(t, err))
			assert.NotContains(t, err.Error(), "hush")
		})
	}
}

func TestValidateTokenSecret(t *testing.T) {
	tests := []struct {
		name   string
		secret Secrets
		fields []string
	}{
		{"off", nil, nil},
		{"one", Secrets{tokenSecretNew}, nil},
		{"exactly 32 bytes", Secrets{Secret(strings.Repeat("k", 32))}, nil},
		{"32 bytes of UTF-8", Secrets{Secret(strings.Repeat("é", 16))}, nil},
		{"two", Secrets{tokenSecretNew, tokenSecretOld}, nil},
		{"short", Secrets{"hush"}, []string{"auth.token_secret"}},
		{"empty", Secrets{""}, []string{"auth.token_secret"}},
		{"control character", Secrets{tokenSecretNew + "\x00"}, []string{"auth.token_secret"}},
		{"second of two short", Secrets{tokenSecretNew, "hush"}, []string{"auth.token_secret[1]"}},
		{"both short", Secrets{"a", "b"}, []string{"auth.token_secret[0]", "auth.token_secret[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Auth.TokenSecret = tt.secret
			err := c.Validate()
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tt.fields, fieldsOf(t, err))
			assert.NotContains(t, err.Error(), "hush")
		})
	}
}

func TestTokenSecretNeverPrints(t *testing.T) {
	c := Default()
	c.Auth.TokenSecret = Secrets{tokenSecretNew, tokenSecretOld}
	outputs := map[string]string{"String": c.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outputs[verb+" Config"] = fmt.Sprintf(verb, c)
		outputs[verb+" Auth"] = fmt.Sprintf(verb, c.Auth)
		outputs[verb+" Secrets"] = fmt.Sprintf(verb, c.Auth.TokenSecret)
	}
	js, err := json.Marshal(c.Auth)
	require.NoError(t, err)
	outputs["json Auth"] = string(js)
	for name, out := range outputs {
		assert.NotContains(t, out, "hush", name)
	}
	assert.Contains(t, c.String(), "  token_secret:\n    - '[redacted]'\n    - '[redacted]'\n")
	assert.JSONEq(t, `{"Keys":null,"TokenSecret":["[redacted]","[redacted]"]}`, string(js))
}

func TestShippedConfigTokenSecret(t *testing.T) {
	cfg, err := Load("streamgate.yaml", env(map[string]string{"STREAMGATE_TOKEN_SECRET": tokenSecretNew}))
	require.NoError(t, err)
	want := Default()
	want.Auth.TokenSecret = Secrets{tokenSecretNew}
	assert.Equal(t, want, cfg)

	_, err = Load("streamgate.yaml", env(map[string]string{"STREAMGATE_TOKEN_SECRET": "hush"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "streamgate.yaml:")
	assert.Contains(t, err.Error(), ": auth.token_secret: must be at least 32 bytes")
}

func TestSecretsBytes(t *testing.T) {
	assert.Nil(t, Secrets(nil).Bytes())
	assert.Nil(t, Secrets{}.Bytes())
	assert.Equal(t, [][]byte{[]byte(tokenSecretNew), []byte(tokenSecretOld)}, Secrets{tokenSecretNew, tokenSecretOld}.Bytes())
}
