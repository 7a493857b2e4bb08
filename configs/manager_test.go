package configs

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The manager's memory keys: parsed as integers, expanded from the environment like every value,
// and refused with the setting and its line when invalid.
func TestParseManagerMemoryKeys(t *testing.T) {
	cfg, err := Parse([]byte(`
manager:
  history_bytes: ${HISTORY_BYTES}
  max_bytes: 2_147_483_648
  max_retained: ${MAX_RETAINED:-500}
`), env(map[string]string{"HISTORY_BYTES": "1048576"}))
	require.NoError(t, err)
	assert.Equal(t, int64(1<<20), cfg.Manager.HistoryBytes)
	assert.Equal(t, int64(2<<30), cfg.Manager.MaxBytes)
	assert.Equal(t, 500, cfg.Manager.MaxRetained)

	for _, tt := range []struct {
		name, doc string
		want      []string // "line: field: message"
	}{
		{"not an integer", "manager:\n  history_bytes: 16MiB\n", []string{"2: manager.history_bytes: must be an integer"}},
		{"quoted", "manager:\n  max_bytes: \"1024\"\n", []string{"2: manager.max_bytes: must be an integer"}},
		{"zero", "manager:\n  history_bytes: 0\n", []string{"2: manager.history_bytes: must be at least 1"}},
		{"max_retained zero", "manager:\n  max_retained: 0\n", []string{"2: manager.max_retained: must be at least 1"}},
		{"max_retained from an empty variable", "manager:\n  max_retained: ${EMPTY:-}\n", []string{"2: manager.max_retained: must be an integer"}},
		{"budget below one history", "manager:\n  history_bytes: 1000\n  max_bytes: 999\n",
			[]string{"3: manager.max_bytes: must be at least manager.history_bytes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), env(nil))
			require.Error(t, err)
			assert.Equal(t, tt.want, fieldLines(t, err))
		})
	}
}

// fieldLines renders each FieldError of err as "line: field: message".
func fieldLines(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, fe := range fieldErrorsOf(t, err) {
		out = append(out, strconv.Itoa(fe.Line)+": "+fe.Field+": "+fe.Msg)
	}
	return out
}
