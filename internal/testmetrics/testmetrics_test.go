package testmetrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/internal/testmetrics"
)

func TestSamples(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "c"}, []string{"b", "a"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "g"})
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h_seconds", Help: "h"}, []string{"k"})
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "other", Help: "o"})
	reg.MustRegister(c, g, h, other)
	c.WithLabelValues("x", `q"uote`).Add(2)
	g.Set(1.5)
	h.WithLabelValues("v").Observe(0.25)
	h.WithLabelValues("v").Observe(0.5)
	require.Equal(t, []string{
		`c_total{a="q\"uote",b="x"} 2`,
		`g 1.5`,
		`h_seconds_count{k="v"} 2`,
		`h_seconds_sum{k="v"} 0.75`,
	}, testmetrics.Samples(t, reg, "c_total", "g", "h_seconds", "missing"))
}
