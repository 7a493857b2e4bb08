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
	p, ok := ParseModelPath(path)
	if !ok || p.Method != MethodStream && p.Method != MethodGenerate {
		return Route{}, false
	}
	return Route{Model: p.Model, Method: p.Method, Vertex: p.Vertex}, true
}

// ModelPath is a parsed path of the models collection: a model's method, a model, or the list.
type ModelPath struct {
	// Version is the segment before "/models" of a Gemini Developer API path ("v1beta"); "" for
	// a Vertex AI path.
	Version string
	Model   string // "" for the list
	Method  string // the part after ':'; "" for a model or the list
	Vertex  bool   // a .../publishers/google/models path
}

// ParseModelPath parses ".../models" (the list), ".../models/{model}" and
// ".../models/{model}:{method}", of Gemini ("/v1beta/models/...") or Vertex AI
// (".../publishers/google/models/..."), after any prefix. It reports false for any other path: a
// model name holding '/', an empty model or method.
func ParseModelPath(path string) (ModelPath, bool) {
	i := strings.LastIndex(path, "/models")
	if i < 0 {
		return ModelPath{}, false
	}
	p := ModelPath{Vertex: strings.Contains(path[:i], "/publishers/")}
	if !p.Vertex {
		p.Version = path[strings.LastIndexByte(path[:i], '/')+1 : i]
	}
	rest := path[i+len("/models"):]
	switch {
	case rest == "":
		return p, true
	case rest[0] != '/':
		return ModelPath{}, false
	}
	model, method, hasMethod := strings.Cut(rest[1:], ":")
	if model == "" || strings.Contains(model, "/") || hasMethod && (method == "" || strings.Contains(method, "/")) {
		return ModelPath{}, false
	}
	p.Model, p.Method = model, method
	return p, true
}
