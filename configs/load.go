package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// Load reads the configuration file at path and parses it as Parse does. Errors reading the file
// wrap the os error (errors.Is(err, fs.ErrNotExist) works); configuration errors carry the file
// name and match ErrInvalid.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(data, lookupEnv, path)
}

// Parse decodes a YAML configuration over Default, expands ${VAR} references with lookupEnv
// (os.LookupEnv when nil), and validates the result. An empty document gives the defaults.
//
// Every problem found is reported, joined with errors.Join: each one is a *FieldError naming the
// setting and its line, and matches ErrInvalid. Expansion and decoding errors are reported
// before validation runs, since validating a half-decoded Config would only add noise.
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	return parse(data, lookupEnv, "")
}

func parse(data []byte, lookupEnv func(string) (string, bool), file string) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	root, err := parseDocument(data)
	if err != nil {
		if file != "" {
			return nil, fmt.Errorf("%s: %w: %w", file, ErrInvalid, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	cfg := Default()
	fe := &fieldErrors{lines: map[string]int{}}
	if root != nil {
		failed := expandEnv(root, lookupEnv, fe)
		newBinder(fe, failed).bind(root, "", reflect.ValueOf(cfg).Elem(), false)
	}
	if len(fe.errs) == 0 {
		cfg.validate(fe)
	}
	if len(fe.errs) > 0 {
		for _, e := range fe.errs {
			e.File = file
		}
		return nil, fe.err()
	}
	return cfg, nil
}

// parseDocument parses data as a single YAML document and returns its root node, or nil when
// the document is empty.
func parseDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("yaml: line %d: a configuration is a single YAML document", extra.Line)
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, nil
	}
	return doc.Content[0], nil
}
