package upstream

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// cancelLog records the watchdog's cancels: when (since the bubble's start) and why.
type cancelLog struct {
	mu    sync.Mutex
	start time.Time
	got   []cancelAt
}

type cancelAt struct {
	at    time.Duration
	cause error
}

func (l *cancelLog) cancel(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, cancelAt{time.Since(l.start), cause})
}

func (l *cancelLog) cancels() []cancelAt {
	synctest.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.got
}

// TestWatchdog runs the watchdog on a synctest clock: each script sleeps and feeds it reads, and
// the test checks the exact time and cause of every cancel.
func TestWatchdog(t *testing.T) {
	const idle = time.Second
	for _, tc := range []struct {
		name     string
		timeouts Timeouts
		script   func(w *watchdog)
		want     []cancelAt
	}{
		{
			name:     "idle fires Idle after the last byte",
			timeouts: Timeouts{FirstEvent: 10 * time.Second, Idle: idle},
			script: func(w *watchdog) {
				w.firstEvent()
				time.Sleep(300 * time.Millisecond)
				w.touch()
			},
			want: []cancelAt{{300*time.Millisecond + idle, errIdle}},
		},
		{
			name:     "activity just before expiry defers it",
			timeouts: Timeouts{FirstEvent: 10 * time.Second, Idle: idle},
			script: func(w *watchdog) {
				w.firstEvent()
				time.Sleep(idle - time.Nanosecond)
				w.touch()
			},
			want: []cancelAt{{2*idle - time.Nanosecond, errIdle}},
		},
		{
			name:     "a steady stream is never idle",
			timeouts: Timeouts{FirstEvent: 10 * time.Second, Idle: idle},
			script: func(w *watchdog) {
				w.firstEvent()
				for range 20 {
					time.Sleep(idle * 9 / 10)
					w.touch()
				}
			},
			want: []cancelAt{{20*idle*9/10 + idle, errIdle}},
		},
		{
			name:     "the idle timeout counts from the first event",
			timeouts: Timeouts{FirstEvent: 10 * time.Second, Idle: idle},
			script: func(w *watchdog) {
				time.Sleep(5 * time.Second)
				w.firstEvent()
			},
			want: []cancelAt{{5*time.Second + idle, errIdle}},
		},
		{
			name:     "an idle timeout longer than the first-event one",
			timeouts: Timeouts{FirstEvent: 100 * time.Millisecond, Idle: 10 * time.Second},
			script: func(w *watchdog) {
				time.Sleep(50 * time.Millisecond)
				w.firstEvent()
			},
			want: []cancelAt{{50*time.Millisecond + 10*time.Second, errIdle}},
		},
		{
			name:     "bytes before the first event do not defer its timeout",
			timeouts: Timeouts{FirstEvent: 2 * time.Second, Idle: idle},
			script: func(w *watchdog) {
				for range 10 {
					time.Sleep(300 * time.Millisecond)
					w.touch()
				}
			},
			want: []cancelAt{{2 * time.Second, errFirstEvent}},
		},
		{
			name:     "a first event after the timeout changes nothing",
			timeouts: Timeouts{FirstEvent: 2 * time.Second, Idle: idle},
			script: func(w *watchdog) {
				time.Sleep(3 * time.Second)
				w.firstEvent()
				w.touch()
			},
			want: []cancelAt{{2 * time.Second, errFirstEvent}},
		},
		{
			name:     "stop before the first event",
			timeouts: Timeouts{FirstEvent: 2 * time.Second, Idle: idle},
			script: func(w *watchdog) {
				time.Sleep(time.Second)
				w.stop()
			},
		},
		{
			name:     "stop after the idle timer re-armed",
			timeouts: Timeouts{FirstEvent: 10 * time.Second, Idle: idle},
			script: func(w *watchdog) {
				w.firstEvent()
				time.Sleep(idle / 2)
				w.touch()
				time.Sleep(idle * 3 / 4) // the timer fired and re-armed for the rest
				w.stop()
			},
		},
		{
			name:     "stop after a timeout cancels nothing more",
			timeouts: Timeouts{FirstEvent: 10 * time.Second, Idle: idle},
			script: func(w *watchdog) {
				w.firstEvent()
				time.Sleep(2 * idle)
				w.touch()
				w.stop()
			},
			want: []cancelAt{{idle, errIdle}},
		},
		{
			name:     "no idle timeout",
			timeouts: Timeouts{FirstEvent: time.Second, Idle: NoTimeout},
			script: func(w *watchdog) {
				w.firstEvent()
				time.Sleep(time.Hour)
				w.stop()
			},
		},
		{
			name:     "no first-event timeout",
			timeouts: Timeouts{FirstEvent: NoTimeout, Idle: idle},
			script: func(w *watchdog) {
				time.Sleep(time.Hour)
				w.firstEvent()
			},
			want: []cancelAt{{time.Hour + idle, errIdle}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log := &cancelLog{start: time.Now()}
				w := newWatchdog(tc.timeouts, log.cancel)
				tc.script(w)
				time.Sleep(24 * time.Hour) // long past every timeout
				require.Equal(t, tc.want, log.cancels())
				w.stop()
			})
		})
	}
}

// TestWatchdogBody: the watched body passes reads through, copies their bytes to the tee, and
// lastRead is when the last read that returned bytes returned (an empty read is no activity).
func TestWatchdogBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(Timeouts{FirstEvent: time.Minute, Idle: time.Minute}, func(error) {})
		defer w.stop()
		var tee bytes.Buffer
		body := w.watch(iotest.HalfReader(strings.NewReader("data: 1\n\n")), &tee)
		p := make([]byte, 4)
		time.Sleep(300 * time.Millisecond)
		n, err := body.Read(p)
		require.NoError(t, err)
		require.Equal(t, "da", string(p[:n]))
		read := time.Now()
		time.Sleep(time.Second)
		n, err = body.Read(p[:0])
		require.Equal(t, 0, n)
		require.NoError(t, err)
		require.True(t, w.lastRead().Equal(read), "lastRead %v, want %v", w.lastRead(), read)
		rest, err := io.ReadAll(body)
		require.NoError(t, err)
		require.Equal(t, "ta: 1\n\n", string(rest))
		require.Equal(t, "data: 1\n\n", tee.String())
		require.True(t, w.lastRead().Equal(time.Now()))
	})
}

// TestWatchdogSize: the fields every read touches fill the first 64 bytes of a watchdog, and its
// size is a size class of cache-line-aligned objects, so that they share one cache line.
func TestWatchdogSize(t *testing.T) {
	var w watchdog
	require.Equal(t, uintptr(64), unsafe.Offsetof(w.base)+unsafe.Sizeof(w.base))
	require.Equal(t, uintptr(128), unsafe.Sizeof(w))
}

// TestWatchdogFirstEventKeepsLastRead: the first event starts the idle timeout at its own time,
// but lastRead stays the time of the read, which still stamps the events that read brought after
// the first one.
func TestWatchdogFirstEventKeepsLastRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &cancelLog{start: time.Now()}
		w := newWatchdog(Timeouts{FirstEvent: time.Minute, Idle: time.Second}, log.cancel)
		defer w.stop()
		body := w.watch(strings.NewReader("data: 1\n\ndata: 2\n\n"), nil)
		time.Sleep(300 * time.Millisecond)
		_, err := body.Read(make([]byte, 64))
		require.NoError(t, err)
		read := time.Now()
		time.Sleep(200 * time.Millisecond) // the parser's work, long on this clock
		w.firstEvent()
		require.True(t, w.lastRead().Equal(read), "lastRead %v, want %v", w.lastRead(), read)
		time.Sleep(time.Hour)
		require.Equal(t, []cancelAt{{500*time.Millisecond + time.Second, errIdle}}, log.cancels())
	})
}
