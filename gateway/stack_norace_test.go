//go:build !race

package gateway_test

import "testing"

// TestOpenGeminiStreamStack holds the goroutines and stack an open Gemini-route stream costs
// below what it was before the handler parked on an 8 KiB stack (46.3-46.7 kB per stream, the
// fake's side included; 37.5-38.4 kB since): the setup frames observe, modelAction and
// streamGenerate call out of line keep the parked handler under a quarter of 16 KiB (a margin
// of a few dozen bytes at first, some 500 since cors left the path and subscriber.run and
// QueuedClient.Run shrank), so a frame that grows on that path brings the 16 KiB back
// (gateway/doc.go, Performance). It also holds the stacks as large as they grew before any GC
// to as much: the caller's first frame, whose write goes through net/http's header writing, is
// written from frames small enough that the handler never outgrows 8 KiB (45.2-47.8 kB when it
// grew to 16, 36.9-37.2 kB since, with some 300 bytes of margin). The race detector changes
// every frame, so this runs without it; make test runs it so.
//
// StackInuse counts 32 KiB stack spans, and the spans left partly used (more of them the more Ps
// there are) are divided among the streams: with 100 streams that noise reached 41,943 B at
// GOMAXPROCS=16 (one span, 328 B, short of a failure; 37,028-38,011 at 2). With 200 it stays at
// 37.2-39.4 kB up to GOMAXPROCS=32, against the regression's 45.4-47.0 kB (200 and 300
// streams), and the test's 800 sockets stay under a 1,024 file limit.
func TestOpenGeminiStreamStack(t *testing.T) {
	cost := openGeminiStreams(t, 200)
	// Seven per stream: the handler, net/http's background read, the runner, the transport's read
	// and write loops, and the fake's two; one more (before the runner's close watcher became the
	// stream handle's AfterClose) makes it 8.
	if cost.goroutines >= 7.5 {
		t.Errorf("an open Gemini stream costs %.2f goroutines, want 7", cost.goroutines)
	}
	if cost.stack > 42_000 {
		t.Errorf("an open Gemini stream holds %.0f B of goroutine stacks, want at most 42,000 (the handler's stack no longer halves at GC?)", cost.stack)
	}
	if cost.grown > 42_000 {
		t.Errorf("an open Gemini stream grew %.0f B of goroutine stacks before any GC, want at most 42,000 (the handler's stack outgrew 8 KiB at the first write?)", cost.grown)
	}
}
