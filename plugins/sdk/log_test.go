package sdk

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoggerWritesHclogJSON(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(&buf)
	l.Warn("disk almost full", "free", 3, slog.Group("g", "a", "b"))
	l.Log(t.Context(), slog.LevelDebug-4, "very detailed")

	dec := json.NewDecoder(&buf)
	var first map[string]any
	require.NoError(t, dec.Decode(&first))
	assert.Equal(t, "disk almost full", first["@message"])
	assert.Equal(t, "warn", first["@level"])
	assert.Equal(t, float64(3), first["free"])
	assert.Equal(t, map[string]any{"a": "b"}, first["g"])
	_, err := time.Parse(hclogTimeFormat, first["@timestamp"].(string))
	assert.NoError(t, err)
	for _, k := range []string{"msg", "level", "time"} {
		assert.NotContains(t, first, k)
	}

	var second map[string]any
	require.NoError(t, dec.Decode(&second))
	assert.Equal(t, "trace", second["@level"])
}
