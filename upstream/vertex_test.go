package upstream_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/auth/authtest"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// googleOAuth returns a service-account credential whose tokens come from ts.
func googleOAuth(t *testing.T, ts *authtest.TokenServer) *auth.GoogleOAuth {
	t.Helper()
	cred, err := auth.NewGoogleOAuth(ctx, auth.GoogleOAuthConfig{
		CredentialsFile: authtest.WriteFile(t, "sa.json", ts.ServiceAccountJSON()),
		HTTPClient:      ts.Client(),
	})
	require.NoError(t, err)
	return cred
}

func TestVertexStreamsWithBearerToken(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	sc := upstreamtest.Gemini("Vertex ", "says hi")
	e := newEnv(t, sc)
	e.fake.RequireBearer(ts.Valid)
	p, err := upstream.NewVertex(upstream.VertexConfig{
		Project: "my-project", Location: "europe-west4", BaseURL: e.baseURL, Credential: googleOAuth(t, ts),
	})
	require.NoError(t, err)
	requireCompleted(t, e.run(e.runner(p, upstream.RunnerConfig{}), geminiReq), sc.Events())

	req := e.fake.Requests()[0]
	require.Equal(t, "/v1/projects/my-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash:streamGenerateContent", req.Path)
	require.Equal(t, "alt=sse", req.RawQuery)
	require.True(t, req.Vertex)
	token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	require.True(t, ok)
	require.True(t, ts.Valid(token))
	require.Empty(t, req.Header.Get("x-goog-api-key"))
	require.Equal(t, "text/event-stream", req.Header.Get("Accept"))
}

func TestVertexRefreshesTokensBeforeExpiry(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	// Tokens living less than the default RefreshBefore (5 min) are replaced at every use.
	ts.SetExpiresIn(time.Minute)
	sc := upstreamtest.Gemini("ok")
	e := newEnv(t, sc)
	e.fake.RequireBearer(ts.Valid)
	p, err := upstream.NewVertex(upstream.VertexConfig{Project: "p1", BaseURL: e.baseURL, Credential: googleOAuth(t, ts)})
	require.NoError(t, err)
	r := e.runner(p, upstream.RunnerConfig{})
	requireCompleted(t, e.run(r, geminiReq), sc.Events())
	requireCompleted(t, e.run(r, geminiReq), sc.Events())
	reqs := e.fake.Requests()
	require.Len(t, reqs, 2)
	require.NotEqual(t, reqs[0].Header.Get("Authorization"), reqs[1].Header.Get("Authorization"))
	require.Len(t, ts.Grants(), 3, "one token at startup, one per request")
}

func TestVertexTokenFailureFailsTheStream(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	ts.SetExpiresIn(time.Minute)
	e := newEnv(t, upstreamtest.Gemini("unused"))
	cred := googleOAuth(t, ts)
	ts.Fail(http.StatusBadRequest, `{"error":"invalid_grant","error_description":"leaked `+authtest.AssertionPlaceholder+`"}`)
	p, err := upstream.NewVertex(upstream.VertexConfig{Project: "p1", BaseURL: e.baseURL, Credential: cred})
	require.NoError(t, err)
	o := e.run(e.runner(p, upstream.RunnerConfig{}), geminiReq)
	requireFailed(t, o, nil, 500, "INTERNAL", "apply upstream credential: fetch access token: token endpoint answered 400 Bad Request (invalid_grant)")
	require.Zero(t, e.fake.RequestCount())
	require.NotContains(t, e.logs.String(), "leaked")
	require.NotContains(t, e.logs.String(), "PRIVATE KEY")
}

func TestVertexEndpoints(t *testing.T) {
	cred := staticBearer("t0ken")
	for _, tc := range []struct {
		name string
		cfg  upstream.VertexConfig
		want string
	}{
		{"default location", upstream.VertexConfig{Project: "p"},
			"https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{"region", upstream.VertexConfig{Project: "p", Location: "asia-northeast1"},
			"https://asia-northeast1-aiplatform.googleapis.com/v1/projects/p/locations/asia-northeast1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{"global", upstream.VertexConfig{Project: "p", Location: "global"},
			"https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{"base URL with a path and a query", upstream.VertexConfig{Project: "123456", Location: "global", BaseURL: "http://proxy.internal:8080/vertex/?route=a", APIVersion: "v1beta1"},
			"http://proxy.internal:8080/vertex/v1beta1/projects/123456/locations/global/publishers/google/models/gemini-2.5-flash:streamGenerateContent?route=a&alt=sse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Credential = cred
			p, err := upstream.NewVertex(tc.cfg)
			require.NoError(t, err)
			req, err := p.StreamRequest(ctx, geminiReq)
			require.NoError(t, err)
			require.Equal(t, tc.want, req.URL.String())
			require.Equal(t, "Bearer t0ken", req.Header.Get("Authorization"))
			gen, err := p.GenerateRequest(ctx, geminiReq)
			require.NoError(t, err)
			require.Equal(t, strings.Replace(req.URL.Path, ":streamGenerateContent", ":generateContent", 1), gen.URL.Path)
			require.Empty(t, gen.URL.Query().Get("alt"))
			require.Equal(t, "application/json", gen.Header.Get("Accept"))
		})
	}
}

// staticBearer is a fixed bearer token credential.
type staticBearer string

func (s staticBearer) Apply(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", "Bearer "+string(s))
	return nil
}
