package telemetry

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// maxModelLen bounds an admitted model name; Gemini and Vertex names are far shorter.
const maxModelLen = 128

// ModelLabels caps the values of the model label: the listed models are always admitted, and
// up to max more in the order Admit first sees them; every other name, and any name that is not
// short printable UTF-8, becomes OtherModel. A client therefore cannot grow the number of series
// with invented model names. It is safe for concurrent use; looking up an admitted name is an
// atomic load and a map lookup.
type ModelLabels struct {
	known atomic.Pointer[map[string]struct{}] // listed and admitted names
	full  atomic.Bool                         // no room left: misses need no lock

	mu   sync.Mutex
	room int // admissions left
}

// NewModelLabels admits listed and up to max other models; max must not be negative, and listed
// names must be non-empty printable UTF-8 of at most 128 bytes.
func NewModelLabels(listed []string, max int) (*ModelLabels, error) {
	if max < 0 {
		return nil, fmt.Errorf("telemetry: max models must not be negative: %w", ErrInvalidConfig)
	}
	known := make(map[string]struct{}, len(listed))
	for i, m := range listed {
		if !admissible(m) {
			return nil, fmt.Errorf("telemetry: models[%d] must be 1 to %d bytes of printable UTF-8: %w", i, maxModelLen, ErrInvalidConfig)
		}
		known[m] = struct{}{}
	}
	l := &ModelLabels{room: max}
	l.known.Store(&known)
	l.full.Store(max == 0)
	return l, nil
}

// Label returns model when it is listed or admitted, else OtherModel. It admits nothing.
func (l *ModelLabels) Label(model string) string {
	if _, ok := (*l.known.Load())[model]; ok {
		return model
	}
	return OtherModel
}

// Admit returns model when it is listed, admitted, or admitted now because there is room left,
// else OtherModel.
func (l *ModelLabels) Admit(model string) string {
	if _, ok := (*l.known.Load())[model]; ok {
		return model
	}
	if l.full.Load() || !admissible(model) {
		return OtherModel
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := *l.known.Load()
	if _, ok := old[model]; ok {
		return model
	}
	if l.room == 0 {
		return OtherModel
	}
	next := make(map[string]struct{}, len(old)+1)
	maps.Copy(next, old)
	next[model] = struct{}{}
	l.known.Store(&next)
	l.room--
	l.full.Store(l.room == 0)
	return model
}

// admissible reports whether s may be a label value: 1 to maxModelLen bytes of valid UTF-8
// without control or other non-printable characters.
func admissible(s string) bool {
	if s == "" || len(s) > maxModelLen || !utf8.ValidString(s) || s == OtherModel {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
