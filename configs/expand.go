package configs

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Errors of a single ${...} reference. They never contain a value.
var (
	errUnterminated  = errors.New("unterminated ${ reference (write $${ for a literal ${)")
	errBadReference  = errors.New("invalid ${...} reference: write ${NAME} or ${NAME:-default}, where NAME is letters, digits and _ and does not start with a digit")
	errNestedDefault = errors.New("the default of a ${NAME:-default} reference cannot contain ${")
)

// expandEnv expands ${VAR} references in every scalar value of the parsed document, in place.
// Keys are left alone, and so are aliases, whose anchored node is expanded where it is defined.
// Each failure is recorded in fe against the value's path; the returned set holds the nodes that
// failed, so that the binder does not report them twice.
//
// Expansion happens after parsing, so a value can never add YAML structure. A plain (unquoted)
// value that was expanded is retyped from its new text, as if it had been written in the file:
// it becomes an integer, a float or a boolean when it reads as one, and a string otherwise
// (never null, so ${VAR:-} is an empty string). Quoted, block and explicitly tagged values keep
// their type.
func expandEnv(doc *yaml.Node, lookup func(string) (string, bool), fe *fieldErrors) map[*yaml.Node]bool {
	failed := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], childPath(path, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, indexPath(path, i))
			}
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "${") {
				return
			}
			v, err := expandString(n.Value, lookup)
			if err != nil {
				fe.addAt(n.Line, path, err.Error())
				failed[n] = true
				return
			}
			n.Value = v
			retag(n)
		}
	}
	walk(doc, "")
	return failed
}

// retag gives an expanded plain scalar the type its new text reads as; see expandEnv.
func retag(n *yaml.Node) {
	if n.Style != 0 {
		return
	}
	switch tag := (&yaml.Node{Kind: yaml.ScalarNode, Value: n.Value}).ShortTag(); tag {
	case "!!int", "!!float", "!!bool":
		n.Tag = tag
	default:
		n.Tag = "!!str"
	}
}

// expandString replaces every ${NAME} and ${NAME:-default} in s, and every $${ with a literal ${.
// ${NAME:-default} gives default when NAME is unset or empty, as in the shell; ${NAME} with NAME
// unset is an error, and so is a value that is not valid UTF-8 (a configuration is text). A
// default runs to the first } and cannot contain ${.
func expandString(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "$${"):
			b.WriteString("${")
			s = s[3:]
		case strings.HasPrefix(s, "${"):
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return "", errUnterminated
			}
			v, err := resolveReference(s[2:end], lookup)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			s = s[end+1:]
		default:
			b.WriteByte('$')
			s = s[1:]
		}
	}
}

// resolveReference returns the value of the text inside ${...}.
func resolveReference(ref string, lookup func(string) (string, bool)) (string, error) {
	name, def, hasDefault := strings.Cut(ref, ":-")
	if !isEnvName(name) {
		return "", errBadReference
	}
	if strings.Contains(def, "${") {
		return "", errNestedDefault
	}
	v, ok := lookup(name)
	switch {
	case hasDefault && v == "":
		return def, nil
	case !ok:
		return "", fmt.Errorf("environment variable %s is not set (write ${%s:-} to allow an empty value)", name, name)
	case !utf8.ValidString(v):
		return "", fmt.Errorf("environment variable %s is not valid UTF-8", name)
	}
	return v, nil
}

// isEnvName reports whether s is a variable name: [A-Za-z_][A-Za-z0-9_]*.
func isEnvName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
