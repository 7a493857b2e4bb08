package configs

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalid matches, with errors.Is, every error that a bad configuration produces: each
// *FieldError and YAML syntax errors. Errors reading the file do not match it.
var ErrInvalid = errors.New("invalid config")

// FieldError reports one problem with one setting. Its message never contains the setting's
// value, which may be a secret or come from the environment.
type FieldError struct {
	// File is the configuration file, set by Load.
	File string
	// Line is the 1-based line of the setting, or of the nearest enclosing one that is written in
	// the file; 0 when unknown (a Config built in Go, or a default).
	Line int
	// Field is the setting's path as written in YAML: "upstream.retry.max_attempts",
	// "auth.keys[1].sha256". It is empty for the document itself.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error formats e as "file:line: field: msg", leaving out the parts that are unknown.
func (e *FieldError) Error() string {
	var b []byte
	switch {
	case e.File != "" && e.Line > 0:
		b = append(b, e.File+":"+strconv.Itoa(e.Line)+": "...)
	case e.File != "":
		b = append(b, e.File+": "...)
	case e.Line > 0:
		b = append(b, "line "+strconv.Itoa(e.Line)+": "...)
	}
	if e.Field != "" {
		b = append(b, e.Field+": "...)
	}
	return string(append(b, e.Msg...))
}

// Is reports whether target is ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// fieldErrors collects FieldErrors and places them on their lines.
type fieldErrors struct {
	lines map[string]int // setting path -> line, from the YAML document; nil for a Go Config
	errs  []*FieldError
}

// add records an error for field, at the line of field or of its nearest enclosing setting.
func (fe *fieldErrors) add(field, msg string) {
	fe.addAt(fe.lineOf(field), field, msg)
}

// addAt records an error for field at a known line.
func (fe *fieldErrors) addAt(line int, field, msg string) {
	fe.errs = append(fe.errs, &FieldError{Line: line, Field: field, Msg: msg})
}

// check records an error for field unless ok.
func (fe *fieldErrors) check(ok bool, field, msg string) {
	if !ok {
		fe.add(field, msg)
	}
}

func (fe *fieldErrors) lineOf(field string) int {
	for p := field; p != ""; p = parentPath(p) {
		if line, ok := fe.lines[p]; ok {
			return line
		}
	}
	return 0
}

// err joins the collected errors, or returns nil.
func (fe *fieldErrors) err() error {
	errs := make([]error, len(fe.errs))
	for i, e := range fe.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// parentPath returns the enclosing setting of a path: "a.b[2]" -> "a.b" -> "a" -> "".
func parentPath(p string) string {
	return p[:max(strings.LastIndexAny(p, ".["), 0)]
}

// childPath joins a mapping key to its parent's path.
func childPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// indexPath joins a sequence index to its parent's path.
func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}
