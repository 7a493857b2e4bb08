package upstream

import (
	"cmp"
	"fmt"
)

// Defaults of VertexConfig.
const (
	DefaultVertexLocation   = "us-central1"
	DefaultVertexAPIVersion = "v1"
)

// VertexConfig configures the Vertex AI provider.
type VertexConfig struct {
	// Project is the Google Cloud project ID or number. Required.
	Project string
	// Location is the region, e.g. "europe-west4", or "global"; default DefaultVertexLocation.
	Location string
	// BaseURL overrides the endpoint, which is https://{Location}-aiplatform.googleapis.com, or
	// https://aiplatform.googleapis.com for the global location.
	BaseURL string
	// APIVersion is the path's version segment; default DefaultVertexAPIVersion.
	APIVersion string
	// Credential authenticates the requests, normally an auth.GoogleOAuth (Authorization: Bearer).
	// Required.
	Credential Credential
}

// Vertex is the Vertex AI provider. It maps Gemini's models collection to Vertex's paths:
//
//	POST {base}/{version}/projects/{p}/locations/{l}/publishers/google/models/{m}:{method}
//	     streamGenerateContent?alt=sse, generateContent, countTokens, embedContent, ...
//	GET  {base}/{version}/publishers/google/models/{m}    publishers.models.get
//	GET  {base}/v1beta1/publishers/google/models          publishers.models.list, in v1beta1 only
//
// A caller's API version does not change the configured one: Vertex's versions (v1, v1beta1) are
// not Gemini's. Vertex answers with its own shapes (a PublisherModel, "publisherModels" in a
// list; :predict for the older embedding models), passed through unchanged.
type Vertex struct {
	modelAPI
}

// vertexListVersion is the API version of publishers.models.list, which v1 does not have.
const vertexListVersion = "v1beta1"

var (
	_ Provider       = (*Vertex)(nil)
	_ UnaryProvider  = (*Vertex)(nil)
	_ SecretReporter = (*Vertex)(nil)
)

// NewVertex validates cfg and returns a Vertex provider.
func NewVertex(cfg VertexConfig) (*Vertex, error) {
	loc := cmp.Or(cfg.Location, DefaultVertexLocation)
	if !isLocation(loc) {
		return nil, fmt.Errorf("%w: vertex Location %q must be lowercase letters, digits and '-', like \"us-central1\" or \"global\"", ErrInvalidConfig, loc)
	}
	if cfg.Project == "" {
		return nil, fmt.Errorf("%w: vertex Project is required", ErrInvalidConfig)
	}
	if err := validateSegment("vertex Project", cfg.Project); err != nil {
		return nil, err
	}
	version := cmp.Or(cfg.APIVersion, DefaultVertexAPIVersion)
	if err := validateSegment("vertex APIVersion", version); err != nil {
		return nil, err
	}
	base, err := parseBaseURL("vertex BaseURL", cmp.Or(cfg.BaseURL, vertexEndpoint(loc)))
	if err != nil {
		return nil, err
	}
	if cfg.Credential == nil {
		return nil, fmt.Errorf("%w: vertex Credential is required", ErrInvalidConfig)
	}
	return &Vertex{modelAPI{base: base, version: version, scope: "/projects/" + cfg.Project + "/locations/" + loc,
		publisher: "/publishers/google", listVersion: vertexListVersion, cred: cfg.Credential,
		openai: "/" + version + "/projects/" + cfg.Project + "/locations/" + loc + "/endpoints/openapi", openaiChatOnly: true}}, nil
}

// vertexEndpoint returns the regional endpoint of loc.
func vertexEndpoint(loc string) string {
	if loc == "global" {
		return "https://aiplatform.googleapis.com"
	}
	return "https://" + loc + "-aiplatform.googleapis.com"
}

// isLocation reports whether loc can be a host label: lowercase letters, digits and inner '-'.
func isLocation(loc string) bool {
	if loc == "" || len(loc) > 63 || loc[0] == '-' || loc[len(loc)-1] == '-' {
		return false
	}
	for i := range len(loc) {
		if c := loc[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Name returns "vertex".
func (v *Vertex) Name() string { return "vertex" }
