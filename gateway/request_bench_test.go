package gateway_test

import (
	"testing"
	"time"

	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// BenchmarkStreamRequest sends one Gemini-route streaming request (three chunks) per op and
// reads it to the end, directly from the fake, through httputil.ReverseProxy and through the
// gateway, one sub-benchmark each, so that -benchmem gives allocs/op per request. It reports the
// process's CPU time per request (user+system, getrusage): the client and the fake are the same
// in every sub-benchmark, so a path's CPU minus direct's is what that path costs per request.
func BenchmarkStreamRequest(b *testing.B) {
	targets := latencyTargets(b, upstreamtest.Gemini(defaultTexts...))
	var arrivals []time.Time
	for _, tg := range targets {
		if tg.name == "hop" { // the hand-off costs nothing measurable in CPU; TTFB covers it
			continue
		}
		b.Run(tg.name, func(b *testing.B) {
			_, arrivals = tg.stream(b, arrivals) // warm the connection pools
			b.ReportAllocs()
			before := cpuTime()
			b.ResetTimer()
			for range b.N {
				_, arrivals = tg.stream(b, arrivals)
			}
			b.StopTimer()
			b.ReportMetric(micros(cpuTime()-before)/float64(b.N), "cpu_us/op")
		})
	}
}
