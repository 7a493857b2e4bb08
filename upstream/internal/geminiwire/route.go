package geminiwire

import "strings"

// Methods of the generateContent family.
const (
	MethodStream   = "streamGenerateContent"
	MethodGenerate = "generateContent"
)

// Route is a parsed Gemini or Vertex AI model method path.
type Route struct {
	Model  string // "gemini-2.5-flash"
	Method string // MethodStream or MethodGenerate
	Vertex bool   // a /v1/projects/{p}/locations/{l}/publishers/google/models/{m} path
}

// ParseRoute parses the path of a Gemini Developer API method
// (".../models/{model}:{method}", e.g. "/v1beta/models/gemini-2.5-flash:streamGenerateContent") or a
// Vertex AI one (".../projects/{p}/locations/{l}/publishers/google/models/{model}:{method}"). Any
// prefix before "models/" is accepted, so a base URL with a path works. It reports false for any
// other path or method.
func ParseRoute(path string) (Route, bool) {
	i := strings.LastIndex(path, "/models/")
	if i < 0 {
		return Route{}, false
	}
	model, method, ok := strings.Cut(path[i+len("/models/"):], ":")
	if !ok || model == "" || strings.Contains(model, "/") {
		return Route{}, false
	}
	if method != MethodStream && method != MethodGenerate {
		return Route{}, false
	}
	return Route{Model: model, Method: method, Vertex: strings.Contains(path[:i], "/publishers/")}, true
}
