package configs

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestDefaultGolden(t *testing.T) {
	golden := filepath.Join("testdata", "default.golden.yaml")
	got := Default().String()
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
	require.NoError(t, Default().Validate())
}

func TestShippedConfig(t *testing.T) {
	t.Run("without GEMINI_API_KEY it runs the simulator with the defaults", func(t *testing.T) {
		for _, vars := range []map[string]string{nil, {"GEMINI_API_KEY": ""}} {
			cfg, err := Load("streamgate.yaml", env(vars))
			require.NoError(t, err)
			assert.Equal(t, Default(), cfg, "streamgate.yaml must spell out exactly the defaults")
			assert.Equal(t, KindSimulator, cfg.Upstream.EffectiveKind())
			assert.Empty(t, cfg.Upstream.EffectiveBaseURL())
		}
	})
	t.Run("with GEMINI_API_KEY it proxies Gemini", func(t *testing.T) {
		cfg, err := Load("streamgate.yaml", env(map[string]string{"GEMINI_API_KEY": "AIza-test"}))
		require.NoError(t, err)
		assert.Equal(t, KindGemini, cfg.Upstream.EffectiveKind())
		assert.Equal(t, Secret("AIza-test"), cfg.Upstream.APIKey)
		assert.Equal(t, GeminiBaseURL, cfg.Upstream.EffectiveBaseURL())
		want := Default()
		want.Upstream.APIKey = "AIza-test"
		assert.Equal(t, want, cfg)
	})
}

// schemaKeys lists the documented keys of the schema: every setting that is not a section,
// with list items written as "auth.keys[].id".
func schemaKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		path := childPath(prefix, f.Tag.Get("yaml"))
		switch {
		case f.Type.Kind() == reflect.Struct:
			keys = append(keys, schemaKeys(f.Type, path)...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			keys = append(keys, path)
			keys = append(keys, schemaKeys(f.Type.Elem(), path+"[]")...)
		default:
			keys = append(keys, path)
		}
	}
	return keys
}

func TestShippedConfigHasEveryKey(t *testing.T) {
	data, err := os.ReadFile("streamgate.yaml")
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &doc))
	var got []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := childPath(prefix, k.Value)
			if v.Kind == yaml.MappingNode && len(v.Content) > 0 {
				walk(v, path)
				continue
			}
			got = append(got, path)
			assert.NotEmpty(t, k.HeadComment+k.LineComment+v.LineComment, "key %s has no comment", path)
		}
	}
	walk(doc.Content[0], "")
	want := slices.DeleteFunc(schemaKeys(reflect.TypeFor[Config](), ""), func(k string) bool { return strings.Contains(k, "[]") })
	assert.Equal(t, want, got)
}

func TestREADMEDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("README.md")
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_.\\[\\]]+)` \\|")
	var got []string
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		got = append(got, m[1])
	}
	assert.Equal(t, schemaKeys(reflect.TypeFor[Config](), ""), got)
}

func TestEffectiveKindAndBaseURL(t *testing.T) {
	tests := []struct {
		name     string
		upstream Upstream
		kind     Kind
		baseURL  string
	}{
		{"auto without key", Upstream{Kind: KindAuto}, KindSimulator, ""},
		{"auto with key", Upstream{Kind: KindAuto, APIKey: "k"}, KindGemini, GeminiBaseURL},
		{"auto with key and base", Upstream{Kind: KindAuto, APIKey: "k", BaseURL: "http://127.0.0.1:1"}, KindGemini, "http://127.0.0.1:1"},
		{"simulator with key", Upstream{Kind: KindSimulator, APIKey: "k"}, KindSimulator, ""},
		{"gemini", Upstream{Kind: KindGemini}, KindGemini, GeminiBaseURL},
		{"vertex regional", Upstream{Kind: KindVertex, Vertex: Vertex{Location: "europe-west4"}}, KindVertex, "https://europe-west4-aiplatform.googleapis.com"},
		{"vertex global", Upstream{Kind: KindVertex, Vertex: Vertex{Location: "global"}}, KindVertex, VertexGlobalBaseURL},
		{"vertex overridden", Upstream{Kind: KindVertex, BaseURL: "http://127.0.0.1:2"}, KindVertex, "http://127.0.0.1:2"},
		{"sse", Upstream{Kind: KindSSE, BaseURL: "https://llm.example/s"}, KindSSE, "https://llm.example/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.kind, tt.upstream.EffectiveKind())
			assert.Equal(t, tt.baseURL, tt.upstream.EffectiveBaseURL())
		})
	}
}

func TestPluginConfigJSON(t *testing.T) {
	js, err := Plugin{}.ConfigJSON()
	require.NoError(t, err)
	assert.Equal(t, "{}", string(js))
	js, err = Plugin{Config: map[string]any{"dir": "/tmp", "n": 1}}.ConfigJSON()
	require.NoError(t, err)
	assert.Equal(t, `{"dir":"/tmp","n":1}`, string(js))
	_, err = Plugin{Config: map[string]any{"c": make(chan int)}}.ConfigJSON()
	require.Error(t, err)
}

// secretConfig returns a valid Config holding every kind of secret, each containing "hush".
func secretConfig() *Config {
	c := Default()
	c.Upstream.APIKey = "AIza-hush"
	c.Upstream.SSE.Headers = map[string]Secret{"Authorization": "Bearer hush"}
	c.Auth.Keys = []Key{{ID: "alice", Key: "key-hush", Tenant: "acme"}}
	c.Plugins = []Plugin{{Name: "hook", Path: "./bin/hook", Config: map[string]any{"token": "hush", "list": []any{"hush", nil}}}}
	return c
}

func TestSecretsNeverPrint(t *testing.T) {
	c := secretConfig()
	outputs := map[string]string{"String": c.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outputs[verb+" *Config"] = fmt.Sprintf(verb, c)
		outputs[verb+" Config"] = fmt.Sprintf(verb, *c)
		outputs[verb+" Upstream"] = fmt.Sprintf(verb, c.Upstream)
		outputs[verb+" Auth"] = fmt.Sprintf(verb, c.Auth)
		outputs[verb+" APIKey"] = fmt.Sprintf(verb, c.Upstream.APIKey)
	}
	js, err := json.Marshal(c.Upstream)
	require.NoError(t, err)
	outputs["json Upstream"] = string(js)
	js, err = json.Marshal(c.Auth)
	require.NoError(t, err)
	outputs["json Auth"] = string(js)
	for name, out := range outputs {
		assert.NotContains(t, out, "hush", name)
	}
	assert.Contains(t, c.String(), "api_key: '[redacted]'")
	assert.Equal(t, "[redacted]", fmt.Sprint(Secret("x")))
	assert.Empty(t, fmt.Sprint(Secret("")))
	assert.Equal(t, `"[redacted]"`, string(must(json.Marshal(Secret("x")))))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestStringRoundTrip(t *testing.T) {
	c := Default()
	c.Listen = "[::1]:9000"
	c.Upstream.Kind = KindVertex
	c.Upstream.Vertex.Project = "p"
	c.Upstream.Simulator.Text = "${NOT_A_VAR} and $${ and \"true\"\nline two"
	c.Manager.InactivityTimeout = Off
	c.Limits.Rate.PerKeyRPS = 0.25
	c.CORS.AllowedOrigins = []string{"https://a.example"}
	c.Auth.Keys = []Key{{ID: "8080", SHA256: digestA, Tenant: "true"}}
	c.Plugins = []Plugin{{Name: "p", Path: "null", Attach: Attach{All: true}}}
	require.NoError(t, c.Validate())
	back, err := Parse([]byte(c.String()), env(nil))
	require.NoError(t, err, c.String())
	assert.Equal(t, c, back)
	assert.Contains(t, c.String(), "inactivity_timeout: off\n")
}
