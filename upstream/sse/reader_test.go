package sse_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/sse"
)

// scriptReader returns its chunks one per Read, then err (io.EOF when nil).
type scriptReader struct {
	chunks [][]byte
	err    error
}

func (s *scriptReader) Read(p []byte) (int, error) {
	if len(s.chunks) == 0 {
		if s.err == nil {
			return 0, io.EOF
		}
		return 0, s.err
	}
	n := copy(p, s.chunks[0])
	if s.chunks[0] = s.chunks[0][n:]; len(s.chunks[0]) == 0 {
		s.chunks = s.chunks[1:]
	}
	return n, nil
}

func script(err error, chunks ...string) *scriptReader {
	s := &scriptReader{err: err}
	for _, c := range chunks {
		s.chunks = append(s.chunks, []byte(c))
	}
	return s
}

func requireEvent(t *testing.T, r *sse.Reader, typ, data, id string) {
	t.Helper()
	ev, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, typ, ev.Type)
	assert.Equal(t, data, string(ev.Data))
	assert.Equal(t, id, ev.LastEventID)
}

func TestReaderReadErrorIsWrappedAndSticky(t *testing.T) {
	boom := errors.New("connection reset")
	r := sse.NewReader(script(boom, "data: a\n\ndata: b\n"))
	requireEvent(t, r, "message", "a", "")
	_, err := r.Next()
	require.ErrorIs(t, err, boom)
	assert.Equal(t, "sse: read event stream: connection reset", err.Error())
	_, again := r.Next()
	require.ErrorIs(t, again, boom)
}

// TestReaderEndInsideABOMPrefix covers a stream that ends after the first bytes of a BOM: they are
// an unfinished line, checked against the limit like any other, and the end stays the end.
func TestReaderEndInsideABOMPrefix(t *testing.T) {
	r := sse.NewReader(script(nil, "\xEF\xBB"))
	r.SetMaxEventSize(1)
	_, err := r.Next()
	require.ErrorIs(t, err, sse.ErrEventTooLarge)
	for range 2 {
		_, err = r.Next()
		require.Equal(t, io.EOF, err)
	}
}

func TestReaderUnexpectedEOFIsNotAnEnd(t *testing.T) {
	r := sse.NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(io.ErrUnexpectedEOF)))
	requireEvent(t, r, "message", "a", "")
	_, err := r.Next()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.NotErrorIs(t, err, io.EOF)
}

func TestReaderDataWithErrorIsReadFirst(t *testing.T) {
	boom := errors.New("boom")
	r := sse.NewReader(iotest.DataErrReader(io.MultiReader(strings.NewReader("data: a\n\n"), iotest.ErrReader(boom))))
	requireEvent(t, r, "message", "a", "")
	_, err := r.Next()
	require.ErrorIs(t, err, boom)
}

// An event is returned as soon as its blank line is read, without waiting for the next byte,
// whatever the line ending. A CR at the end of a read could be followed by a LF: the reader must
// not block on it.
func TestReaderDispatchesWithoutLookahead(t *testing.T) {
	stop := errors.New("read past the event")
	for name, input := range map[string]string{
		"lf":   "data: a\n\n",
		"crlf": "data: a\r\n\r\n",
		"cr":   "data: a\r\r",
	} {
		t.Run(name, func(t *testing.T) {
			r := sse.NewReader(script(stop, input))
			requireEvent(t, r, "message", "a", "")
			_, err := r.Next()
			require.ErrorIs(t, err, stop)
		})
	}
}

func TestReaderCRLFSplitAcrossReads(t *testing.T) {
	r := sse.NewReader(script(nil, "data: a\r", "\ndata: b\r", "\n\r", "\ndata: c\r\n\r", "\n"))
	requireEvent(t, r, "message", "a\nb", "")
	requireEvent(t, r, "message", "c", "")
	_, err := r.Next()
	require.Equal(t, io.EOF, err)
}

func TestReaderBuffered(t *testing.T) {
	r := sse.NewReader(script(nil, "data: a\r\n\r\ndata: b", "\n\n: c\r", "\n"))
	require.Zero(t, r.Buffered())
	requireEvent(t, r, "message", "a", "")
	require.Equal(t, len("data: b"), r.Buffered())
	requireEvent(t, r, "message", "b", "")
	require.Equal(t, len(": c\r"), r.Buffered())
	_, err := r.Next()
	require.Equal(t, io.EOF, err)
	require.Zero(t, r.Buffered())
}

func TestReaderReset(t *testing.T) {
	r := sse.NewReader(script(nil, "retry: 5\nid: 7\nevent: x\ndata: "+strings.Repeat("a", 40<<10)+"\n\ndata: unfinished\ndata: more"))
	requireEvent(t, r, "x", strings.Repeat("a", 40<<10), "7")
	r.SetMaxEventSize(10)
	r.Reset(script(nil, "\xEF\xBB\xBFdata: "+strings.Repeat("b", 20)+"\n\n"))
	requireEvent(t, r, "message", strings.Repeat("b", 20), "")
	_, err := r.Next()
	require.Equal(t, io.EOF, err)
	require.Zero(t, r.Retry())
	require.Empty(t, r.LastEventID())

	const input = "data: c\r\ndata: d\r\n\r\n"
	src := strings.NewReader(input)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(input)
		r.Reset(src)
		ev, err := r.Next()
		if err != nil || string(ev.Data) != "c\nd" {
			t.Fatalf("got %q, %v", ev.Data, err)
		}
	})
	require.Zero(t, allocs, "a Reset Reader reuses its buffers")
}

func TestReaderEmptyReads(t *testing.T) {
	r := sse.NewReader(iotest.TimeoutReader(strings.NewReader("data: a\n\n")))
	requireEvent(t, r, "message", "a", "")
	_, err := r.Next()
	require.ErrorIs(t, err, iotest.ErrTimeout)

	r = sse.NewReader(readerFunc(func([]byte) (int, error) { return 0, nil }))
	_, err = r.Next()
	require.ErrorIs(t, err, io.ErrNoProgress)
}

func TestReaderInvalidReadCount(t *testing.T) {
	r := sse.NewReader(readerFunc(func(p []byte) (int, error) { return len(p) + 1, nil }))
	_, err := r.Next()
	require.EqualError(t, err, "sse: read event stream: reader returned invalid count 1025") // one more than the 1 KiB first buffer
	r = sse.NewReader(readerFunc(func([]byte) (int, error) { return -1, nil }))
	_, err = r.Next()
	require.EqualError(t, err, "sse: read event stream: reader returned invalid count -1")
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestReaderDataCannotClobberBuffer(t *testing.T) {
	r := sse.NewReader(strings.NewReader("data: a\n\ndata: bb\ndata: c\n\ndata: d\n\n"))
	ev, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, len(ev.Data), cap(ev.Data))
	_ = append(ev.Data, 'X')
	ev, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, len(ev.Data), cap(ev.Data))
	require.Equal(t, "bb\nc", string(ev.Data))
	_ = append(ev.Data, 'X')
	requireEvent(t, r, "message", "d", "")
}

func TestReaderLastEventIDForResumption(t *testing.T) {
	r := sse.NewReader(script(nil, "id: 1\ndata: a\n\n", "id: 2\n\n", "id: 3\ndata: partial\n"))
	r.SetLastEventID("0")
	assert.Equal(t, "0", r.LastEventID())
	requireEvent(t, r, "message", "a", "1")
	assert.Equal(t, "1", r.LastEventID())
	_, err := r.Next()
	require.Equal(t, io.EOF, err)
	assert.Equal(t, "2", r.LastEventID(), "a blank line without data still sets the last event ID string")
}

// bigEvent returns a one-line event carrying n data bytes.
func bigEvent(n int) (event, data []byte) {
	event = make([]byte, 0, n+8)
	event = append(event, "data: "...)
	for i := range n {
		event = append(event, 'a'+byte(i%26))
	}
	return append(event, "\n\n"...), event[6 : 6+n]
}

func TestReader8MiBEvent(t *testing.T) {
	event, data := bigEvent(8 << 20)
	for _, size := range []int{4 << 10, 1000, 1 << 20} {
		r := sse.NewReader(&chunkReader{r: bytes.NewReader(event), sizes: []int{size}})
		ev, err := r.Next()
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, ev.Data), "read in %d-byte chunks", size)
		_, err = r.Next()
		require.Equal(t, io.EOF, err)
	}
}

func TestReader8MiBMultiLineEvent(t *testing.T) {
	var in, want bytes.Buffer
	line := strings.Repeat("x", 1023)
	for i := range 8 << 10 {
		in.WriteString("data: " + line + "\n")
		if i > 0 {
			want.WriteByte('\n')
		}
		want.WriteString(line)
	}
	in.WriteString("\r\n")
	r := sse.NewReader(&chunkReader{r: &in, sizes: []int{4 << 10}})
	ev, err := r.Next()
	require.NoError(t, err)
	require.True(t, bytes.Equal(want.Bytes(), ev.Data))
}

func TestReaderMaxEventSizeBoundary(t *testing.T) {
	const limit = 1 << 20
	for _, tc := range []struct {
		dataLen int
		ok      bool
	}{{limit - 6, true}, {limit - 5, false}, {2 * limit, false}} {
		event, data := bigEvent(tc.dataLen)
		for _, size := range []int{4 << 10, len(event)} {
			r := sse.NewReader(&chunkReader{r: io.MultiReader(bytes.NewReader(event), strings.NewReader("data: next\n\n")), sizes: []int{size}})
			r.SetMaxEventSize(limit)
			ev, err := r.Next()
			if tc.ok {
				require.NoError(t, err)
				require.True(t, bytes.Equal(data, ev.Data))
			} else {
				require.ErrorIs(t, err, sse.ErrEventTooLarge)
				require.EqualError(t, err, "sse: event over the 1048576-byte limit dropped: sse: event too large")
			}
			requireEvent(t, r, "message", "next", "")
		}
	}
}

func TestReaderDefaultMaxEventSize(t *testing.T) {
	r := sse.NewReader(strings.NewReader("data: " + strings.Repeat("x", sse.DefaultMaxEventSize) + "\n\ndata: ok\n\n"))
	_, err := r.Next()
	require.ErrorIs(t, err, sse.ErrEventTooLarge)
	requireEvent(t, r, "message", "ok", "")

	r = sse.NewReader(strings.NewReader("data: ok\n\n"))
	r.SetMaxEventSize(-1)
	requireEvent(t, r, "message", "ok", "")
}

// endlessLine streams "data: " followed by n bytes of 'x' without reading them from memory.
type endlessLine struct{ left int }

func (e *endlessLine) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), e.left)
	for i := range n {
		p[i] = 'x'
	}
	e.left -= n
	return n, nil
}

// An over-limit line is skipped as it streams in: the reader's memory stays near the limit
// however long the line is.
func TestReaderOverLimitLineIsNotBuffered(t *testing.T) {
	const limit, lineLen = 256 << 10, 64 << 20
	in := io.MultiReader(strings.NewReader("data: "), &endlessLine{left: lineLen}, strings.NewReader("\n\ndata: ok\n\n"))
	r := sse.NewReader(in)
	r.SetMaxEventSize(limit)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := r.Next()
	require.ErrorIs(t, err, sse.ErrEventTooLarge)
	requireEvent(t, r, "message", "ok", "")
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4*limit))
}

func TestReaderIgnoredLines(t *testing.T) {
	body := "data: {\"candidates\":[]}\r\n\r\n{\n  \"error\": {\n    \"code\": 500,\n    \"status\": \"INTERNAL\"\n  }\n}\n"
	r := sse.NewReader(strings.NewReader(body))
	var tail []string
	r.SetIgnoredLineFunc(func(line []byte) { tail = append(tail, string(line)) })
	requireEvent(t, r, "message", `{"candidates":[]}`, "")
	_, err := r.Next()
	require.Equal(t, io.EOF, err)
	require.Equal(t, []string{"{", `  "error": {`, `    "code": 500,`, `    "status": "INTERNAL"`, "  }", "}"}, tail)
}

// In steady state Next allocates nothing for repeated types and IDs and one string for a new ID.
func TestReaderAllocations(t *testing.T) {
	const events = 100
	var fixed, changing bytes.Buffer
	for i := range events {
		fixed.WriteString("id: 7\nevent: delta\ndata: {\"text\":\"hello\"}\r\n\r\n")
		changing.WriteString("id: " + strconv.Itoa(i) + "\ndata: a\ndata: b\n\n")
	}
	for _, tc := range []struct {
		name  string
		input []byte
		want  float64
	}{{"repeated id", fixed.Bytes(), 0}, {"new id", changing.Bytes(), 1}} {
		t.Run(tc.name, func(t *testing.T) {
			src := bytes.NewReader(tc.input)
			r := sse.NewReader(src)
			_, err := r.Next() // warm up the buffers
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(events-2, func() {
				if _, err := r.Next(); err != nil {
					t.Fatal(err)
				}
			})
			assert.LessOrEqual(t, allocs, tc.want)
		})
	}
}

// sizeRecorder records the room each Read is offered.
type sizeRecorder struct {
	r     io.Reader
	rooms []int
}

func (s *sizeRecorder) Read(p []byte) (int, error) {
	s.rooms = append(s.rooms, len(p))
	return s.r.Read(p)
}

// TestReaderBufferFollowsReads pins the read buffer's sizing (issue 15): an upstream that sends
// one event per read is read into the 1 KiB first buffer for the whole stream, since every open
// stream holds its buffer; a source with more at hand is read in reads that double up to 16 KiB.
func TestReaderBufferFollowsReads(t *testing.T) {
	event := "data: " + strings.Repeat("x", 300) + "\n\n"
	t.Run("one event per read", func(t *testing.T) {
		rec := &sizeRecorder{r: &chunkReader{r: strings.NewReader(strings.Repeat(event, 64)), sizes: []int{len(event)}}}
		r := sse.NewReader(rec)
		for range 64 {
			_, err := r.Next()
			require.NoError(t, err)
		}
		require.Equal(t, 1<<10, slices.Max(rec.rooms))
	})
	// Reads that end inside events: the room left at the buffer's end shrinks read by read
	// until the unread bytes move to the front, and the read that fills a small room left
	// there must not make the buffer grow (it did once, to 16 KiB for every such stream).
	for _, size := range []int{250, 350, len(event) + 1} {
		t.Run("reads of "+strconv.Itoa(size), func(t *testing.T) {
			rec := &sizeRecorder{r: &chunkReader{r: strings.NewReader(strings.Repeat(event, 64)), sizes: []int{size}}}
			r := sse.NewReader(rec)
			for range 64 {
				ev, err := r.Next()
				require.NoError(t, err)
				require.Len(t, ev.Data, 300)
			}
			require.Equal(t, 1<<10, slices.Max(rec.rooms))
		})
	}
	t.Run("bulk", func(t *testing.T) {
		rec := &sizeRecorder{r: strings.NewReader(strings.Repeat(event, 1000))}
		r := sse.NewReader(rec)
		for range 1000 {
			ev, err := r.Next()
			require.NoError(t, err)
			require.Equal(t, strings.Repeat("x", 300), string(ev.Data))
		}
		require.Equal(t, 1<<10, rec.rooms[0])
		require.LessOrEqual(t, slices.Max(rec.rooms), 16<<10)
		require.Greater(t, slices.Max(rec.rooms), 15<<10, "a bulk source is read in reads of up to 16 KiB")
	})
}
