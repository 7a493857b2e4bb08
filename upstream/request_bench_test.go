package upstream_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/upstream"
)

// BenchmarkStreamRequestBuild builds the upstream request of one Gemini-route stream, as the
// runner does before every upstream call: path, query, headers and key.
func BenchmarkStreamRequestBuild(b *testing.B) {
	key, err := auth.NewAPIKey(testKey)
	require.NoError(b, err)
	p, err := upstream.NewGemini(upstream.GeminiConfig{BaseURL: "http://127.0.0.1:8080", Credential: key})
	require.NoError(b, err)
	req := upstream.Request{Model: "gemini-2.5-flash", Body: []byte(`{"contents":[]}`), APIVersion: "v1beta"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.StreamRequest(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
