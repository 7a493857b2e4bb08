package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Severity grades a Diagnostic.
type Severity int

// Severities.
const (
	SeverityError Severity = iota + 1
	SeverityWarning
)

func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "unknown"
}

// Diagnostic reports one problem found in a configuration.
type Diagnostic struct {
	Severity Severity
	Summary  string
	Detail   string
	// Path locates the problem in the configuration as a JSON Pointer (RFC 6901), e.g.
	// "/rules/0/codes"; "" means the configuration as a whole.
	Path string
}

func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Severity.String())
	if d.Path != "" {
		b.WriteString(" at ")
		b.WriteString(d.Path)
	}
	b.WriteString(": ")
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString(" (")
		b.WriteString(d.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// Diagnostics is a list of Diagnostic. It is an error, so Configure and Open can return it: a
// list holding any SeverityError entry refuses the configuration; warnings alone do not.
type Diagnostics []Diagnostic

// HasError reports whether any entry has SeverityError.
func (d Diagnostics) HasError() bool {
	for _, x := range d {
		if x.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Error implements error: the entries joined with "; ".
func (d Diagnostics) Error() string {
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = x.String()
	}
	return strings.Join(parts, "; ")
}

// Invalid returns Diagnostics holding one error about the configuration at path (a JSON Pointer).
func Invalid(path, format string, args ...any) Diagnostics {
	return Diagnostics{{Severity: SeverityError, Summary: fmt.Sprintf(format, args...), Path: path}}
}

// DiagnosticsFrom turns an error returned by Configure or Open into Diagnostics: Diagnostics (also
// wrapped) keep their entries, any other error becomes one SeverityError entry. nil gives nil.
func DiagnosticsFrom(err error) Diagnostics {
	if err == nil {
		return nil
	}
	var d Diagnostics
	if errors.As(err, &d) {
		return d
	}
	return Diagnostics{{Severity: SeverityError, Summary: err.Error()}}
}

// DecodeConfig decodes a JSON configuration into v strictly: unknown fields, wrong types and
// trailing data are errors, returned as Diagnostics whose Path names the offending field. An empty
// or null configuration leaves v unchanged, so v can carry the defaults.
func DecodeConfig(raw json.RawMessage, v any) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeDiagnostics(err)
	}
	if dec.More() {
		return Invalid("", "configuration has data after its JSON value")
	}
	return nil
}

func decodeDiagnostics(err error) Diagnostics {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		path := ""
		if typeErr.Field != "" {
			path = "/" + strings.ReplaceAll(typeErr.Field, ".", "/")
		}
		return Invalid(path, "expected %s, got JSON %s", typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return Diagnostics{{Severity: SeverityError, Summary: "configuration is not valid JSON", Detail: err.Error()}}
	}
	const unknown = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknown) {
		name := strings.Trim(strings.TrimPrefix(msg, unknown), `"`)
		return Invalid("/"+name, "unknown field %q", name)
	}
	return Diagnostics{{Severity: SeverityError, Summary: "invalid configuration", Detail: err.Error()}}
}
