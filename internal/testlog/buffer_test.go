package testlog_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/internal/testlog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBufferConcurrentWrites writes from several goroutines while reading: under -race an
// unguarded buffer fails, and every write must arrive whole.
func TestBufferConcurrentWrites(t *testing.T) {
	var b testlog.Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("line\n"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, strings.Repeat("line\n", 400), b.String())
}
