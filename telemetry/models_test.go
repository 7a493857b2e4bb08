package telemetry_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/telemetry"
)

func TestModelLabels(t *testing.T) {
	l, err := telemetry.NewModelLabels([]string{"gemini-2.5-pro"}, 2)
	require.NoError(t, err)
	for _, step := range []struct {
		call, model, want string
	}{
		{"Label", "gemini-2.5-pro", "gemini-2.5-pro"}, // listed: admitted from the start
		{"Label", "gemini-2.5-flash", "other"},        // not seen yet, and Label admits nothing
		{"Admit", "gemini-2.5-flash", "gemini-2.5-flash"},
		{"Label", "gemini-2.5-flash", "gemini-2.5-flash"},
		{"Admit", "gemini-2.5-pro", "gemini-2.5-pro"}, // listed models take no slot
		{"Admit", "bad\x00name", "other"},             // not printable: never admitted, takes no slot
		{"Admit", "\xff", "other"},
		{"Admit", "", "other"},
		{"Admit", "other", "other"},
		{"Admit", strings.Repeat("m", 129), "other"},
		{"Admit", "gemini-2.0-flash", "gemini-2.0-flash"}, // the second and last slot
		{"Admit", "gemini-1.5-flash", "other"},            // full
		{"Label", "gemini-1.5-flash", "other"},
		{"Admit", "gemini-2.5-flash", "gemini-2.5-flash"},
		{"Admit", "gemini-2.5-pro", "gemini-2.5-pro"},
	} {
		got := l.Label(step.model)
		if step.call == "Admit" {
			got = l.Admit(step.model)
		}
		assert.Equal(t, step.want, got, "%s(%q)", step.call, step.model)
	}
}

func TestModelLabelsZeroAdmitsOnlyListed(t *testing.T) {
	l, err := telemetry.NewModelLabels([]string{"a"}, 0)
	require.NoError(t, err)
	assert.Equal(t, "a", l.Admit("a"))
	assert.Equal(t, "other", l.Admit("b"))
}

// Many goroutines racing to admit more models than there is room for admit exactly max.
func TestModelLabelsCapHoldsUnderConcurrency(t *testing.T) {
	const max, workers, perWorker = 100, 8, 50
	l, err := telemetry.NewModelLabels(nil, max)
	require.NoError(t, err)
	var mu sync.Mutex
	admitted := map[string]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				model := fmt.Sprintf("model-%d-%d", w, i)
				if got := l.Admit(model); got != telemetry.OtherModel {
					assert.Equal(t, model, got)
					mu.Lock()
					admitted[model] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	assert.Len(t, admitted, max)
	for w := range workers {
		for i := range perWorker {
			model := fmt.Sprintf("model-%d-%d", w, i)
			assert.Equal(t, admitted[model], l.Label(model) == model, model)
		}
	}
}

// Through Metrics: with one listed model and max_models 100, 150 invented models give 101 model
// series and "other", and a model the upstream never served (no FirstChunk) takes no slot.
func TestModelCardinalityIsCapped(t *testing.T) {
	m := newMetrics(t, telemetry.MetricsConfig{Models: []string{"listed"}, MaxModels: 100})
	m.FirstChunk("gemini", "listed", time.Second)
	for i := range 150 {
		model := fmt.Sprintf("invented-%03d", i)
		m.FirstChunk("gemini", model, time.Second)
		m.Tokens("gemini", model, 1, 1)
	}
	m.Tokens("gemini", "never-served", 1, 1)
	assert.Equal(t, 102, testutil.CollectAndCount(m.Registry(), "streamgate_upstream_time_to_first_chunk_seconds"))
	assert.Equal(t, 2*101, testutil.CollectAndCount(m.Registry(), "streamgate_tokens_total"))
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	var other float64
	for _, f := range families {
		if f.GetName() != "streamgate_tokens_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() == "model" && lp.GetValue() == telemetry.OtherModel {
					other += s.GetCounter().GetValue()
				}
			}
		}
	}
	assert.Equal(t, 2.0*51, other, "the 50 models past the cap and the never-served one count as other")
}
