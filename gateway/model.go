package gateway

import (
	"fmt"
)

// maxModelLen bounds a model name.
const maxModelLen = 256

// validateModel checks that a model name is one plain path segment.
func validateModel(model string) error {
	switch {
	case model == "":
		return fmt.Errorf("empty model name")
	case len(model) > maxModelLen:
		return fmt.Errorf("model name is %d bytes long (at most %d)", len(model), maxModelLen)
	case model == "." || model == "..":
		return fmt.Errorf("model name %q is a relative path", model)
	}
	for i := range len(model) {
		c := model[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '@') {
			return fmt.Errorf("model name %q has %q at byte %d (allowed: ASCII letters, digits, '-', '.', '_', '@')", model, c, i)
		}
	}
	return nil
}
