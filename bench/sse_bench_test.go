package bench

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/packages/ssestream"
	gosse "github.com/tmaxmax/go-sse"

	"github.com/streamgate/streamgate/upstream/sse"
)

// geminiEvent is a 263-byte streamGenerateContent?alt=sse frame with CRLF line endings.
var geminiEvent = func() []byte {
	const head = `data: {"candidates":[{"content":{"parts":[{"text":"`
	const tail = `"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":21,"totalTokenCount":30},"modelVersion":"gemini-2.5-flash"}` + "\r\n\r\n"
	return []byte(head + strings.Repeat("x", 263-len(head)-len(tail)) + tail)
}()

// geminiData is the data of geminiEvent.
var geminiData = geminiEvent[len("data: ") : len(geminiEvent)-4]

// gatewayFrames are 64 frames as streamgate's gateway writes them: a new id each, a type, the
// Gemini JSON as data, LF line endings.
var gatewayFrames = func() []byte {
	var b []byte
	for i := range 64 {
		b = append(b, "id: "+strconv.Itoa(1000+i)+"\nevent: chunk\ndata: "...)
		b = append(b, geminiData...)
		b = append(b, "\n\n"...)
	}
	return b
}()

// bigEvent is one event carrying 8 MiB of data on one line.
var bigEvent, bigData = func() ([]byte, []byte) {
	ev := append([]byte("data: "), bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)...)
	return append(ev, "\n\n"...), ev[6:]
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

// chunkReader returns at most size bytes per Read.
type chunkReader struct {
	r    io.Reader
	size int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.size)])
}

// parser reads n events from r and, unless check is nil, calls it with the data of each. Each of
// the compared libraries is wrapped as one; check is nil while timing so that no parser pays for
// a conversion.
type parser func(b *testing.B, r io.Reader, n int, check func(data []byte))

var parsers = []struct {
	name string
	read parser
}{
	{"streamgate", readStreamgate},
	{"tmaxmax-go-sse", readGoSSE},
	{"openai-go-ssestream", readOpenAI},
}

func readStreamgate(b *testing.B, r io.Reader, n int, check func([]byte)) {
	rd := sse.NewReader(r)
	for range n {
		ev, err := rd.Next()
		if err != nil {
			b.Fatal(err)
		}
		if check != nil {
			check(ev.Data)
		}
	}
}

func readGoSSE(b *testing.B, r io.Reader, n int, check func([]byte)) {
	if n == 0 {
		return
	}
	i := 0
	for ev, err := range gosse.Read(r, &gosse.ReadConfig{MaxEventSize: 16 << 20}) {
		if err != nil {
			b.Fatal(err)
		}
		if check != nil {
			check([]byte(ev.Data))
		}
		if i++; i == n {
			return
		}
	}
	b.Fatalf("go-sse stopped after %d events", i)
}

func readOpenAI(b *testing.B, r io.Reader, n int, check func([]byte)) {
	dec := ssestream.NewDecoder(&http.Response{
		Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body:   io.NopCloser(r),
	})
	for range n {
		if !dec.Next() {
			b.Fatal("openai decoder stopped:", dec.Err())
		}
		ev := dec.Event()
		if check != nil {
			// The openai decoder keeps the LF that ends the last data line.
			check(bytes.TrimSuffix(ev.Data, []byte("\n")))
		}
	}
}

// sameAs returns a check that fails b unless the data equals want.
func sameAs(b *testing.B, want []byte) func([]byte) {
	return func(data []byte) {
		if !bytes.Equal(data, want) {
			b.Fatalf("read %d bytes of data, want %d", len(data), len(want))
		}
	}
}

// benchmarkStream reads b.N events from an endless repetition of stream, after checking that the
// parser reads the first events right.
func benchmarkStream(b *testing.B, stream []byte, eventsPerStream int, want []byte) {
	for _, p := range parsers {
		b.Run(p.name, func(b *testing.B) {
			p.read(b, bytes.NewReader(stream), eventsPerStream, sameAs(b, want))
			b.SetBytes(int64(len(stream) / eventsPerStream))
			b.ReportAllocs()
			b.ResetTimer()
			p.read(b, &loopReader{buf: stream}, b.N, nil)
		})
	}
}

// BenchmarkGemini263 reads 263-byte Gemini frames (data only, CRLF).
func BenchmarkGemini263(b *testing.B) {
	benchmarkStream(b, bytes.Repeat(geminiEvent, 64), 64, geminiData)
}

// BenchmarkGatewayFrames reads id/event/data frames with a new id each (LF).
func BenchmarkGatewayFrames(b *testing.B) {
	benchmarkStream(b, gatewayFrames, 64, geminiData)
}

// Benchmark8MiBEvent reads one 8 MiB one-line event fed in 4 KiB reads, with a new parser each
// time.
func Benchmark8MiBEvent(b *testing.B) {
	for _, p := range parsers {
		b.Run(p.name, func(b *testing.B) {
			src := bytes.NewReader(bigEvent)
			b.SetBytes(int64(len(bigEvent)))
			b.ReportAllocs()
			for range b.N {
				src.Reset(bigEvent)
				p.read(b, &chunkReader{r: src, size: 4 << 10}, 1, nil)
			}
			src.Reset(bigEvent)
			p.read(b, &chunkReader{r: src, size: 4 << 10}, 1, sameAs(b, bigData))
		})
	}
}
