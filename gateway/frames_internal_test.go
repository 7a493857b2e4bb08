package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

func TestFrameCache(t *testing.T) {
	var caches frameCaches
	data := []byte(`{"n":1}`)
	ch := manager.Chunk{ID: 7, Event: "tick", Data: data}
	want := "id: 7\nevent: tick\ndata: {\"n\":1}\n\n"

	one := caches.acquire("s")
	require.Nil(t, one.frame(ch, true), "one subscriber encodes for itself")

	two := caches.acquire("s")
	require.Same(t, one, two, "subscribers of one stream share a cache")
	first := two.frame(ch, true)
	require.Equal(t, want, string(first))
	again := one.frame(ch, true)
	require.Same(t, &first[0], &again[0], "the frame is encoded once")

	tests := []struct {
		name string
		ch   manager.Chunk
		want string
	}{
		{"same ID, other data", manager.Chunk{ID: 7, Event: "tick", Data: []byte(`{"n":1}`)}, want},
		{"same data, other event", manager.Chunk{ID: 7, Event: "tock", Data: data}, "id: 7\nevent: tock\ndata: {\"n\":1}\n\n"},
		{"same slot, other ID", manager.Chunk{ID: 7 + frameCacheSlots, Data: data}, "id: 23\ndata: {\"n\":1}\n\n"},
		{"error chunk", manager.Chunk{ID: 7, Data: data, Err: &manager.StreamError{Code: 500}}, "id: 7\nevent: error\ndata: {\"n\":1}\n\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := one.frame(tc.ch, true)
			require.Equal(t, tc.want, string(f))
			require.NotSame(t, &first[0], &f[0], "another chunk never gets the cached frame")
		})
	}
	require.Nil(t, one.frame(manager.Chunk{ID: 8}, true), "empty data is not cached")
	large := manager.Chunk{ID: 9, Data: make([]byte, maxCachedData+1)}
	require.Nil(t, one.frame(large, true), "large data is not cached")
	peek := manager.Chunk{ID: 10, Data: data}
	require.Nil(t, one.frame(peek, false), "a lookup alone stores nothing")
	require.Nil(t, one.frame(peek, false))
	stored := one.frame(peek, true)
	require.Same(t, &stored[0], &one.frame(peek, false)[0], "a lookup finds what was stored")

	caches.release("s", two)
	require.Nil(t, one.frame(manager.Chunk{ID: 11, Data: data}, true), "alone again, the subscriber encodes for itself")
	caches.release("s", one)
	require.Empty(t, caches.m, "the last subscriber drops the cache")
	require.NotSame(t, one, caches.acquire("s"))
}
