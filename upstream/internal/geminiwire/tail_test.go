package geminiwire

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/sse"
)

func TestTailLeftover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		want  string
		known bool
	}{
		{"nothing", "", "", true},
		{"only events", "data: a\r\n\r\ndata: b\r\n\r\n", "", true},
		{"pretty error", "data: a\r\n\r\n{\n  \"error\": {\n    \"code\": 500\n  }\n}\n", "{\n  \"error\": {\n    \"code\": 500\n  }\n}", true},
		{"no newline at the end", "data: a\n\n{\"error\":{}}", `{"error":{}}`, true},
		{"CR framing", "data: a\r\rtrailing", "trailing", true},
		{"whole body without events", "{\"error\":{}}\n", `{"error":{}}`, true},
		{"unfinished event", "data: a\n\ndata: b\n", "data: b", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tl Tail
			for i := range len(tc.body) { // byte by byte: the result must not depend on how writes split the body
				_, _ = tl.Write([]byte{tc.body[i]})
			}
			rest, ok := tl.Leftover()
			require.Equal(t, tc.known, ok)
			require.Equal(t, tc.want, string(rest))
		})
	}
}

func TestTailWrapsAround(t *testing.T) {
	var tl Tail
	event := []byte("data: " + string(make([]byte, 100)) + "\n\n")
	for range TailSize/len(event) + 3 {
		_, _ = tl.Write(event)
	}
	_, _ = tl.Write([]byte(`{"error":{"code":503}}`))
	rest, ok := tl.Leftover()
	require.True(t, ok)
	require.Equal(t, `{"error":{"code":503}}`, string(rest))

	tl = Tail{}
	_, _ = tl.Write(make([]byte, 3*TailSize)) // one huge line, no blank line kept
	_, ok = tl.Leftover()
	require.False(t, ok)
}

// TestTailKeepLastChangesNothing feeds random bodies to a Tail the way the runner does, dropping
// each event the parser returns, and requires the same leftover as a Tail that keeps the last
// TailSize bytes of the whole body.
func TestTailKeepLastChangesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		body := randomBody(rng)
		var dropping, whole Tail
		src := &chunkedReader{b: body, rng: rng}
		rd := sse.NewReader(readFunc(func(p []byte) (int, error) {
			n, err := src.Read(p)
			_, _ = dropping.Write(p[:n])
			_, _ = whole.Write(p[:n])
			return n, err
		}))
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
			dropping.KeepLast(rd.Buffered())
		}
		wantRest, wantOK := whole.Leftover()
		gotRest, gotOK := dropping.Leftover()
		require.Equal(t, wantOK, gotOK, "body %d: %q", i, body)
		require.Equal(t, string(wantRest), string(gotRest), "body %d: %q", i, body)
	}
}

// randomBody returns an event stream of random events, line endings, raw lines and blank lines,
// sometimes longer than TailSize without a blank line.
func randomBody(rng *rand.Rand) []byte {
	endings := []string{"\n", "\r", "\r\n"}
	var b []byte
	for range rng.IntN(12) {
		nl := endings[rng.IntN(len(endings))]
		switch rng.IntN(5) {
		case 0, 1:
			b = append(b, "data: "+strings.Repeat("x", rng.IntN(300))+nl+nl...)
		case 2:
			b = append(b, "data: "+strings.Repeat("y", rng.IntN(2*TailSize))+nl+nl...)
		case 3:
			b = append(b, strings.Repeat("z", rng.IntN(TailSize+10))+nl...)
		case 4:
			b = append(b, nl...)
		}
	}
	if rng.IntN(2) == 0 {
		b = append(b, "{\n  \"error\": {\"code\": 503}\n}\n"...)
	}
	return b
}

// chunkedReader returns b in reads of random sizes.
type chunkedReader struct {
	b   []byte
	rng *rand.Rand
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.b[:min(len(c.b), 1+c.rng.IntN(5000))])
	c.b = c.b[n:]
	return n, nil
}

type readFunc func(p []byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

// TestTailStaysSmall feeds a Tail a long stream the way the runner does, in reads that split
// events, dropping each event: its buffer must stay about one read large, so that the whole stream
// costs a couple of allocations rather than one growth after another up to TailSize.
func TestTailStaysSmall(t *testing.T) {
	body := streamBody(500, 256)
	var tl Tail
	allocs := testing.AllocsPerRun(20, func() {
		tl = Tail{}
		feedEvents(&tl, body, 700)
	})
	require.LessOrEqual(t, allocs, 2.0)
	require.Less(t, cap(tl.buf), 2*700)
	rest, ok := tl.Leftover()
	require.True(t, ok)
	require.Empty(t, rest)
}

// BenchmarkTail is the Tail's part of reading a stream of 64 events of about 256 bytes, one read
// per event, as the runner reads a Gemini stream.
func BenchmarkTail(b *testing.B) {
	body := streamBody(64, 256)
	const event = len("data: ") + 256 + len("\n\n")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var tl Tail
		feedEvents(&tl, body, event)
	}
}

// streamBody is n events of size bytes of data each.
func streamBody(n, size int) []byte {
	var b []byte
	for range n {
		b = append(b, "data: "+strings.Repeat("x", size)+"\n\n"...)
	}
	return b
}

// feedEvents writes body to tl in reads of size bytes and, after each, drops what the events
// completed so far hold, as KeepLast after every event the parser returns would.
func feedEvents(tl *Tail, body []byte, size int) {
	for off := 0; off < len(body); off += size {
		read := body[off:min(off+size, len(body))]
		_, _ = tl.Write(read)
		from := max(off-1, 0) // a blank line may straddle two reads
		if i := bytes.LastIndex(body[from:off+len(read)], []byte("\n\n")); i >= 0 {
			tl.KeepLast(off + len(read) - (from + i + 2))
		}
	}
}
