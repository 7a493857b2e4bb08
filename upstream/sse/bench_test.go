package sse_test

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/sse"
)

// geminiEvent is a 263-byte streamGenerateContent?alt=sse frame.
var geminiEvent = func() []byte {
	const head = `data: {"candidates":[{"content":{"parts":[{"text":"`
	const tail = `"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":21,"totalTokenCount":30},"modelVersion":"gemini-2.5-flash"}` + "\r\n\r\n"
	return []byte(head + strings.Repeat("x", 263-len(head)-len(tail)) + tail)
}()

// loopReader serves buf over and over, as much of it as each Read asks for.
type loopReader struct {
	buf []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.buf[l.off:])
		n += c
		l.off = (l.off + c) % len(l.buf)
	}
	return n, nil
}

// benchmarkEvents reads b.N events of size bytes each from an endless repetition of frame.
func benchmarkEvents(b *testing.B, frame []byte, size int) {
	r := sse.NewReader(&loopReader{buf: bytes.Repeat(frame, 64)})
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGeminiEventSize(t *testing.T) {
	require.Len(t, geminiEvent, 263)
}

// BenchmarkReaderGemini reads 263-byte Gemini frames: throughput, ns and allocations per event.
func BenchmarkReaderGemini(b *testing.B) {
	benchmarkEvents(b, geminiEvent, len(geminiEvent))
}

// BenchmarkReaderGatewayFrames reads id/event/data frames whose id changes every event, as the
// gateway writes them: one allocation per event, the new ID string.
func BenchmarkReaderGatewayFrames(b *testing.B) {
	var frames []byte
	for i := range 64 {
		frames = append(frames, "id: "+strconv.Itoa(1000+i)+"\nevent: chunk\n"...)
		frames = append(frames, geminiEvent[:len(geminiEvent)-4]...)
		frames = append(frames, "\n\n"...)
	}
	r := sse.NewReader(&loopReader{buf: frames})
	b.SetBytes(int64(len(frames) / 64))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderMultiLine reads events of eight 64-byte data lines, which are copied.
func BenchmarkReaderMultiLine(b *testing.B) {
	var frame []byte
	for range 8 {
		frame = append(frame, "data: "+strings.Repeat("y", 64)+"\n"...)
	}
	frame = append(frame, '\n')
	benchmarkEvents(b, frame, len(frame))
}

// BenchmarkReader8MiBEvent reads one 8 MiB event fed in 4 KiB reads by a new Reader each time.
func BenchmarkReader8MiBEvent(b *testing.B) {
	event, data := bigEvent(8 << 20)
	src := bytes.NewReader(event)
	b.SetBytes(int64(len(event)))
	b.ReportAllocs()
	for range b.N {
		src.Reset(event)
		r := sse.NewReader(&chunkReader{r: src, sizes: []int{4 << 10}})
		ev, err := r.Next()
		if err != nil || len(ev.Data) != len(data) {
			b.Fatal(err, len(ev.Data))
		}
		if _, err := r.Next(); err != io.EOF {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncoderGemini writes Gemini-style frames with CRLF line endings.
func BenchmarkEncoderGemini(b *testing.B) {
	data := geminiEvent[len("data: ") : len(geminiEvent)-4]
	benchmarkEncoder(b, sse.CRLF, sse.Event{Data: data}, false)
}

// BenchmarkEncoderGatewayFrame writes id/event/data frames with LF line endings.
func BenchmarkEncoderGatewayFrame(b *testing.B) {
	data := geminiEvent[len("data: ") : len(geminiEvent)-4]
	benchmarkEncoder(b, sse.LF, sse.Event{Type: "chunk", Data: data, LastEventID: "123456"}, true)
}

func benchmarkEncoder(b *testing.B, nl sse.Newline, ev sse.Event, withID bool) {
	e := sse.NewEncoder(io.Discard, nl)
	frame, err := sse.AppendEvent(nil, ev, withID, nl)
	require.NoError(b, err)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for range b.N {
		if err := e.Encode(ev, withID); err != nil {
			b.Fatal(err)
		}
	}
}
