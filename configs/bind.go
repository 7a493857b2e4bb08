package configs

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the values decoded, counted after aliases are followed, so that a few lines of
// nested aliases cannot expand into gigabytes.
const maxNodes = 100_000

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretsType  = reflect.TypeFor[Secrets]()
	freeFormType = reflect.TypeFor[map[string]any]()
)

// binder copies a parsed YAML document onto a Config, over its defaults. It is strict: unknown
// and duplicate keys are errors, integers must be written as integers, booleans as true or
// false. A setting written as null (or with no value) keeps its default. Errors name the
// setting's path and line and never quote its value.
//
// yaml.v3 parses the document; the binding is ours because yaml.v3's decoder names Go types
// rather than settings in its errors, quotes values in them, and truncates 1.5 to 1.
type binder struct {
	fe     *fieldErrors
	failed map[*yaml.Node]bool // values whose expansion failed and was reported
	budget int                 // nodes left to decode
	active map[*yaml.Node]bool // alias targets being decoded, to detect cycles
}

func newBinder(fe *fieldErrors, failed map[*yaml.Node]bool) *binder {
	return &binder{fe: fe, failed: failed, budget: maxNodes, active: map[*yaml.Node]bool{}}
}

// bind decodes n into v. off is set for durations that accept off.
func (b *binder) bind(n *yaml.Node, path string, v reflect.Value, off bool) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if !b.spend(n, path) || b.failed[n] || isNull(n) {
		return
	}
	switch {
	case v.Type() == durationType:
		b.duration(n, path, v, off)
	case v.Type() == secretsType && n.Kind == yaml.ScalarNode:
		loneSecret(n, v)
	case v.Kind() == reflect.Struct:
		b.structure(n, path, v)
	case v.Kind() == reflect.Slice:
		b.sequence(n, path, v)
	case v.Type() == freeFormType:
		b.freeFormMap(n, path, v)
	case v.Kind() == reflect.Map:
		b.stringMap(n, path, v)
	default:
		b.scalar(n, path, v)
	}
}

// loneSecret binds one secret written alone, not as a list, onto Secrets; "" (an unset
// ${VAR:-}, typically) is none.
func loneSecret(n *yaml.Node, v reflect.Value) {
	if n.Value == "" {
		v.SetZero()
		return
	}
	v.Set(reflect.ValueOf(Secrets{Secret(n.Value)}))
}

// freeFormMap binds a mapping onto a map[string]any, such as a plugin's config; an empty one
// leaves v as it was.
func (b *binder) freeFormMap(n *yaml.Node, path string, v reflect.Value) {
	if m, ok := b.freeForm(n, path).(map[string]any); ok && len(m) > 0 {
		v.Set(reflect.ValueOf(m))
	} else if n.Kind != yaml.MappingNode {
		b.fe.addAt(n.Line, path, "must be a mapping")
	}
}

// spend counts one node against the budget and reports whether it may be decoded. The first node
// over the budget is reported.
func (b *binder) spend(n *yaml.Node, path string) bool {
	b.budget--
	if b.budget == -1 {
		b.fe.addAt(n.Line, path, "too many values (aliases expand beyond "+strconv.Itoa(maxNodes)+" nodes)")
	}
	return b.budget >= 0
}

// isNull reports whether n is a null scalar: null, ~ or nothing.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// structure binds a mapping onto the fields of a struct, by their yaml tags.
func (b *binder) structure(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		msg := "must be a mapping"
		if path == "" {
			msg = "the document must be a mapping of settings"
		}
		b.fe.addAt(n.Line, path, msg)
		return
	}
	t := v.Type()
	b.pairs(n, path, func(key string, keyLine int, val *yaml.Node) {
		i := fieldIndex(t, key)
		if i < 0 {
			b.fe.addAt(keyLine, childPath(path, key), "unknown key (expected one of: "+strings.Join(keyNames(t), ", ")+")")
			return
		}
		f := t.Field(i)
		b.bind(val, childPath(path, key), v.Field(i), f.Tag.Get("off") == "true")
	})
}

// pairs calls fn for each key and value of a mapping, reporting keys that are not strings,
// merge keys and duplicates. It records the line of each key as the line of its setting.
func (b *binder) pairs(n *yaml.Node, path string, fn func(key string, keyLine int, val *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			b.fe.addAt(k.Line, path, "keys must be strings")
		case k.ShortTag() == "!!merge":
			b.fe.addAt(k.Line, path, "merge keys (<<) are not supported")
		case seen[k.Value] > 0:
			b.fe.addAt(k.Line, childPath(path, k.Value), "duplicate key (first at line "+strconv.Itoa(seen[k.Value])+")")
		default:
			seen[k.Value] = k.Line
			b.fe.lines[childPath(path, k.Value)] = k.Line
			fn(k.Value, k.Line, val)
		}
	}
}

// fieldIndex returns the index of the field of struct type t whose yaml tag is key, or -1.
func fieldIndex(t reflect.Type, key string) int {
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("yaml") == key {
			return i
		}
	}
	return -1
}

// keyNames lists the yaml keys of struct type t, in declaration order.
func keyNames(t reflect.Type) []string {
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("yaml")
	}
	return names
}

// sequence binds a sequence onto a slice, replacing its default; an empty one gives nil.
func (b *binder) sequence(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		b.fe.addAt(n.Line, path, "must be a list")
		return
	}
	if len(n.Content) == 0 {
		v.SetZero()
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		b.fe.lines[indexPath(path, i)] = item.Line
		b.bind(item, indexPath(path, i), s.Index(i), false)
	}
	v.Set(s)
}

// stringMap binds a mapping onto a map with string keys and scalar values; an empty one gives
// nil.
func (b *binder) stringMap(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		b.fe.addAt(n.Line, path, "must be a mapping")
		return
	}
	if len(n.Content) == 0 {
		v.SetZero()
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	b.pairs(n, path, func(key string, _ int, val *yaml.Node) {
		e := reflect.New(t.Elem()).Elem()
		b.bind(val, childPath(path, key), e, false)
		m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), e)
	})
	v.Set(m)
}

// duration decodes a Go duration string such as "15s", or with off the word off as Off.
func (b *binder) duration(n *yaml.Node, path string, v reflect.Value, off bool) {
	if n.Kind != yaml.ScalarNode {
		b.fe.addAt(n.Line, path, "must be a duration such as 15s or 5m")
		return
	}
	if off && n.Value == "off" {
		v.SetInt(int64(Off))
		return
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		b.fe.addAt(n.Line, path, "must be a duration with a unit, such as 15s or 5m")
		return
	}
	v.SetInt(int64(d))
}

// scalar decodes a string, integer, float or boolean.
func (b *binder) scalar(n *yaml.Node, path string, v reflect.Value) {
	var want []string
	var msg string
	switch v.Kind() {
	case reflect.String:
		if n.Kind == yaml.ScalarNode {
			v.SetString(n.Value)
			return
		}
		msg = "must be a string"
	case reflect.Int, reflect.Int64:
		want, msg = []string{"!!int"}, "must be an integer"
	case reflect.Float64:
		want, msg = []string{"!!int", "!!float"}, "must be a number"
	case reflect.Bool:
		want, msg = []string{"!!bool"}, "must be true or false"
	default:
		panic("configs: no binding for " + v.Type().String())
	}
	p := reflect.New(v.Type())
	if n.Kind != yaml.ScalarNode || !slices.Contains(want, n.ShortTag()) || n.Decode(p.Interface()) != nil {
		b.fe.addAt(n.Line, path, msg)
		return
	}
	v.Set(p.Elem())
}

// freeForm decodes any YAML value into map[string]any, []any, string, int, uint64, float64, bool
// or nil, as encoding/json would have it. It returns nil after reporting an error.
func (b *binder) freeForm(n *yaml.Node, path string) any {
	if !b.spend(n, path) {
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		if b.active[n.Alias] {
			b.fe.addAt(n.Line, path, "alias refers to a value that contains it")
			return nil
		}
		b.active[n.Alias] = true
		defer delete(b.active, n.Alias)
		return b.freeForm(n.Alias, path)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		b.pairs(n, path, func(key string, _ int, val *yaml.Node) {
			m[key] = b.freeForm(val, childPath(path, key))
		})
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			b.fe.lines[indexPath(path, i)] = item.Line
			s[i] = b.freeForm(item, indexPath(path, i))
		}
		return s
	}
	return b.freeScalar(n, path)
}

// freeScalar decodes one scalar of a free-form value. A timestamp stays the text it was written
// as.
func (b *binder) freeScalar(n *yaml.Node, path string) any {
	if b.failed[n] {
		return nil
	}
	if n.ShortTag() == "!!timestamp" {
		return n.Value
	}
	var x any
	if err := n.Decode(&x); err != nil {
		b.fe.addAt(n.Line, path, "invalid value for its tag "+n.ShortTag())
		return nil
	}
	if f, ok := x.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
		b.fe.addAt(n.Line, path, "must be a finite number (JSON has no infinity or NaN)")
		return nil
	}
	return x
}
