// Package testmetrics reads a Prometheus registry back for tests: the samples of chosen metrics,
// one line each, to be compared exactly.
package testmetrics

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Samples returns the samples of the named metrics that g gathers, sorted, one per line as the
// text format writes them (name{label="value",...} value, labels in name order). A histogram
// gives its _count and _sum lines, not its buckets; a name g does not have gives no line.
func Samples(t testing.TB, g prometheus.Gatherer, names ...string) []string {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []string
	for _, mf := range families {
		if !slices.Contains(names, mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			pairs := make([]string, 0, len(m.GetLabel()))
			for _, lp := range m.GetLabel() {
				pairs = append(pairs, lp.GetName()+"="+strconv.Quote(lp.GetValue()))
			}
			labels := ""
			if len(pairs) > 0 {
				labels = "{" + strings.Join(pairs, ",") + "}"
			}
			name := mf.GetName()
			switch {
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				out = append(out, fmt.Sprintf("%s_count%s %d", name, labels, h.GetSampleCount()),
					fmt.Sprintf("%s_sum%s %s", name, labels, format(h.GetSampleSum())))
			case m.GetCounter() != nil:
				out = append(out, name+labels+" "+format(m.GetCounter().GetValue()))
			case m.GetGauge() != nil:
				out = append(out, name+labels+" "+format(m.GetGauge().GetValue()))
			}
		}
	}
	slices.Sort(out)
	return out
}

// format writes a value as the text format does, with the fewest digits that give it back.
func format(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
