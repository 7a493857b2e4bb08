package upstream_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// Every event of one read is stamped with that read's time, when its last byte arrived: the
// first event of an attempt, which starts the idle timeout, must not move the time of the events
// that came in the same read after it.
func TestEventsOfOneReadShareItsTime(t *testing.T) {
	chunks := upstreamtest.Chunks("one ", "two")
	var body []byte
	for _, c := range chunks {
		body = append(append(append(body, "data: "...), c...), "\r\n\r\n"...)
	}
	// One write and one flush: the headers and both events reach the runner in one segment, and
	// the parser's first read returns them together.
	sc := upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Raw(body)}}
	e := newEnv(t, sc)
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
	requireCompleted(t, o, chunks)
	require.True(t, o.chunks[1].Time.Equal(o.chunks[0].Time),
		"chunk 2 stamped %v, %v after chunk 1 of the same read", o.chunks[1].Time, o.chunks[1].Time.Sub(o.chunks[0].Time))
}
