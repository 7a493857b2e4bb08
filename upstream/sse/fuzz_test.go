package sse_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/sse"
)

// FuzzReader checks that the Reader never panics, that it reads any input as the naive reference
// parser does, that the input cut into reads of random sizes gives the same events, errors,
// ignored lines, Retry and LastEventID as the whole input, and that what it returns could have
// come from a stream: no line break in a type, none in an ID (nor NUL), no CR in data. The golden
// inputs are seeds.
func FuzzReader(f *testing.F) {
	for _, seed := range []string{
		"data: a\n\n",
		"\ufeffdata: a\r\n\r\nid: 1\revent: x\rdata: b\r\r",
		"retry: 100\n: comment\nid\ndata\n\n",
		"data: a\r\ndata: b\r",
		"event: e\nid: 1\x002\ndata: x\n\n",
		"data: 0123456789\ndata: 0123456789\n\ndata: ok\n\n",
	} {
		f.Add([]byte(seed), uint64(1), uint16(0))
		f.Add([]byte(seed), uint64(7), uint16(12))
	}
	goldens, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	require.NoError(f, err)
	for _, file := range goldens {
		raw, err := os.ReadFile(file)
		require.NoError(f, err)
		var tc goldenCase
		require.NoError(f, json.Unmarshal(raw, &tc))
		f.Add([]byte(tc.Input), uint64(len(goldens)), uint16(tc.MaxEventSize))
	}
	f.Fuzz(func(t *testing.T, input []byte, chunkSeed uint64, maxSize uint16) {
		whole := sse.NewReader(bytes.NewReader(input))
		whole.SetMaxEventSize(int(maxSize))
		want := readAll(t, whole)
		checkWellFormed(t, want)
		require.Equal(t, referenceParse(input, int(maxSize), ""), want, "reference parser")

		rng := rand.New(rand.NewPCG(chunkSeed, chunkSeed>>32))
		sizes := make([]int, 1+rng.IntN(8))
		for i := range sizes {
			sizes[i] = 1 + rng.IntN(17)
		}
		chunked := sse.NewReader(&chunkReader{r: bytes.NewReader(input), sizes: sizes})
		chunked.SetMaxEventSize(int(maxSize))
		require.Equal(t, want, readAll(t, chunked), "read in chunks of %v", sizes)
	})
}

func checkWellFormed(t *testing.T, log readLog) {
	for _, res := range log.Results {
		require.NotContains(t, res.Type, "\r")
		require.NotContains(t, res.Type, "\n")
		require.False(t, strings.ContainsAny(res.LastEventID, "\r\n\x00"), "id %q", res.LastEventID)
		if res.Data != nil {
			require.NotContains(t, string(*res.Data), "\r")
		}
	}
	require.Equal(t, "EOF", log.End)
}

// FuzzRoundTrip checks that every event the encoder accepts reads back unchanged, that the encoder
// adds no field (nothing ignored, no retry, the next event unaffected), and that it rejects exactly
// the events the format cannot carry.
func FuzzRoundTrip(f *testing.F) {
	f.Add("", "", []byte("hello"), false, uint8(0))
	f.Add("delta", "17", []byte("a\nb\n\n"), true, uint8(1))
	f.Add(" t", " ", []byte(" x"), true, uint8(2))
	f.Add("a\nb", "1", []byte("x"), true, uint8(0))
	f.Add("t", "1\x00", []byte("x"), true, uint8(0))
	f.Add("t", "1", []byte("a\r\nb"), false, uint8(1))
	f.Add("message", "", []byte{}, true, uint8(2))
	f.Add("t", "", []byte("\ufeffdata: x\n\n"), false, uint8(0))
	f.Fuzz(func(t *testing.T, typ, id string, data []byte, withID bool, nl uint8) {
		ev := sse.Event{Type: typ, Data: data, LastEventID: id}
		newline := sse.Newline(nl % 3)
		encoded, err := sse.AppendEvent(nil, ev, withID, newline)
		representable := !strings.ContainsAny(typ, "\r\n") && !bytes.ContainsRune(data, '\r') &&
			(!withID || !strings.ContainsAny(id, "\r\n\x00"))
		if !representable {
			require.ErrorIs(t, err, sse.ErrInvalidField)
			require.Empty(t, encoded)
			return
		}
		require.NoError(t, err)
		encoded, err = sse.AppendEvent(encoded, sse.Event{Data: []byte("next")}, false, newline)
		require.NoError(t, err)

		r := sse.NewReader(bytes.NewReader(encoded))
		r.SetIgnoredLineFunc(func(line []byte) { t.Fatalf("encoder wrote an ignored line %q", line) })
		got, err := r.Next()
		require.NoError(t, err)
		want := normalize(ev, withID)
		require.Equal(t, want.Type, got.Type)
		require.True(t, bytes.Equal(want.Data, got.Data), "data %q read back as %q", want.Data, got.Data)
		require.Equal(t, want.LastEventID, got.LastEventID)

		next, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, sse.Event{Type: sse.DefaultType, Data: []byte("next"), LastEventID: want.LastEventID}, next)
		_, err = r.Next()
		require.True(t, errors.Is(err, io.EOF))
		require.Zero(t, r.Retry())
	})
}
