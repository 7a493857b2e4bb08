package manager

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The ring's running slot and the replay's (id-1) % max must name the same slot for every chunk.
func TestHistoryWraps(t *testing.T) {
	for _, size := range []uint64{1, 2, 3, 7} {
		h := history{max: size}
		for id := uint64(1); id <= 5*size+2; id++ {
			h.add(Chunk{ID: id})
			require.Equal(t, id, h.last)
			for kept := h.oldest(); kept <= id; kept++ {
				require.Equal(t, kept, h.get(kept).ID, "size %d after chunk %d", size, id)
			}
			require.Equal(t, max(1, int64(id)-int64(size)+1), int64(h.oldest()))
		}
	}
}
