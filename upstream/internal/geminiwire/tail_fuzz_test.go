package geminiwire

import (
	"bytes"
	"testing"
)

// FuzzTail drives a Tail with writes and KeepLast calls decoded from ops and checks its kept
// bytes and Leftover against a plain model: every byte written since the body's start or the last
// KeepLast, of which the Tail holds the last TailSize.
func FuzzTail(f *testing.F) {
	f.Add([]byte{0x10, 0x03, 0x81, 0x20}, []byte("data: a\n\n{\"error\":1}\n"))
	f.Add([]byte{0xff, 0xff, 0x7f, 0x01, 0x90}, []byte("x\r\n\r\ny"))
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		if len(data) == 0 {
			data = []byte("\n")
		}
		var tl Tail
		var model []byte
		src := 0
		for i := 0; i+1 < len(ops); i += 2 {
			n := int(ops[i+1]) * 97 % (TailSize + 512)
			if ops[i]&1 == 0 {
				p := make([]byte, n)
				for j := range p {
					p[j] = data[(src+j)%len(data)]
				}
				src += n
				_, _ = tl.Write(p)
				model = append(model, p...)
			} else {
				tl.KeepLast(n)
				if n < len(model) {
					model = model[len(model)-n:]
				}
			}
			want := model[max(len(model)-TailSize, 0):]
			got, whole := tl.bytes()
			if !bytes.Equal(got, want) {
				t.Fatalf("op %d: kept %d bytes, want %d", i/2, len(got), len(want))
			}
			if whole && len(model) > TailSize {
				t.Fatalf("op %d: whole with %d bytes written since the last event", i/2, len(model))
			}
			if !whole && len(model) < TailSize {
				t.Fatalf("op %d: not whole with %d bytes written since the last event", i/2, len(model))
			}
			rest, ok := tl.Leftover()
			end, found := lastBlankLine(want)
			switch {
			case ok && !bytes.Equal(rest, bytes.TrimSpace(want[end:])):
				t.Fatalf("op %d: leftover %q, want %q", i/2, rest, bytes.TrimSpace(want[end:]))
			case !ok && (found || len(model) < TailSize):
				t.Fatalf("op %d: leftover unknown", i/2)
			}
		}
	})
}
