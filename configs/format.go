package configs

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var secretType = reflect.TypeFor[Secret]()

// String renders c as a YAML configuration file with its secrets redacted: the API key, client
// keys and SSE header values print as [redacted], and so does every value of a plugin's config,
// which may hold a credential too. Without secrets the output parses back to an equal Config.
func (c Config) String() string {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(encode(reflect.ValueOf(c), false)); err != nil {
		return "configs: cannot render: " + err.Error()
	}
	if err := enc.Close(); err != nil {
		return "configs: cannot render: " + err.Error()
	}
	return b.String()
}

// Format implements fmt.Formatter: every verb, %#v included, prints String, so that no verb can
// reach a secret through the Config.
func (c Config) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, c.String())
}

// encode builds the YAML node of a Config value. off is set for durations that accept off.
func encode(v reflect.Value, off bool) *yaml.Node {
	switch {
	case v.Type() == durationType:
		return encodeDuration(time.Duration(v.Int()), off)
	case v.Type() == secretType:
		return scalarNode("!!str", Secret(v.String()).String())
	}
	switch v.Kind() {
	case reflect.Struct:
		return encodeStruct(v)
	case reflect.Slice:
		return encodeSlice(v)
	case reflect.Map:
		return encodeMap(v)
	}
	return encodeScalar(v)
}

// encodeDuration renders d as a Go duration string, or as off where off is accepted.
func encodeDuration(d time.Duration, off bool) *yaml.Node {
	if off && d == Off {
		return scalarNode("!!str", "off")
	}
	return scalarNode("!!str", formatDuration(d))
}

// encodeStruct renders a struct's fields by their yaml tags, in declaration order.
func encodeStruct(v reflect.Value) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		n.Content = append(n.Content, scalarNode("!!str", f.Tag.Get("yaml")), encode(v.Field(i), f.Tag.Get("off") == "true"))
	}
	return n
}

// encodeSlice renders a slice; an empty one as [].
func encodeSlice(v reflect.Value) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for i := range v.Len() {
		n.Content = append(n.Content, encode(v.Index(i), false))
	}
	if len(n.Content) == 0 {
		n.Style = yaml.FlowStyle
	}
	return n
}

// encodeScalar renders a string, boolean, float or integer. A string's ${ is escaped so that the
// output does not expand variables when it is read back.
func encodeScalar(v reflect.Value) *yaml.Node {
	switch v.Kind() {
	case reflect.String:
		return scalarNode("!!str", strings.ReplaceAll(v.String(), "${", "$${"))
	case reflect.Bool:
		return scalarNode("", strconv.FormatBool(v.Bool()))
	case reflect.Float64:
		return scalarNode("", strconv.FormatFloat(v.Float(), 'g', -1, 64))
	}
	return scalarNode("", strconv.FormatInt(v.Int(), 10))
}

// encodeMap renders a map with sorted keys. The values of a free-form map are redacted.
func encodeMap(v reflect.Value) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		var val *yaml.Node
		if v.Type().Elem().Kind() == reflect.Interface {
			val = redactedNode(v.MapIndex(k).Interface())
		} else {
			val = encode(v.MapIndex(k), false)
		}
		n.Content = append(n.Content, scalarNode("!!str", k.String()), val)
	}
	if len(n.Content) == 0 {
		n.Style = yaml.FlowStyle
	}
	return n
}

// redactedNode renders a free-form value with the structure of its maps and lists kept and every
// scalar but null replaced by Redacted.
func redactedNode(x any) *yaml.Node {
	switch x := x.(type) {
	case nil:
		return scalarNode("!!null", "null")
	case map[string]any:
		return encodeMap(reflect.ValueOf(x))
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range x {
			n.Content = append(n.Content, redactedNode(e))
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n
	}
	return scalarNode("!!str", Redacted)
}

// scalarNode returns a scalar. With tag "!!str" the encoder quotes the text when it would otherwise
// read as another type; with tag "" the text is written as it is.
func scalarNode(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// formatDuration writes d as time.Duration.String does, without zero trailing units: 5m, 1h,
// 1h30m.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
