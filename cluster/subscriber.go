package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redis/rueidis"
)

const (
	// maxBackoff bounds the wait between two attempts to reconnect the live connection.
	maxBackoff = time.Second
	// connectTimeout bounds one attempt to (re)connect the live connection and subscribe.
	connectTimeout = 5 * time.Second
)

// liveHandler is one registration on a channel.
type liveHandler struct {
	id     uint64
	msg    func(payload string)
	resync func()
}

// subscriber multiplexes every live subscription of a Store over one dedicated Redis connection:
// one SSUBSCRIBE per channel however many local handlers it has, messages dispatched to the
// handlers from the connection's reader goroutine. When the connection drops it reconnects with
// backoff, subscribes every channel again and tells each handler to resync.
type subscriber struct {
	client rueidis.Client
	log    *slog.Logger
	cancel context.CancelFunc // stops run
	done   chan struct{}      // closed when run returns
	unsub  chan struct{}      // wakes run to send the pending unsubscribes

	// opMu orders the subscribe commands on the connection as the handler map changes: a channel
	// unsubscribed and subscribed again is never left unsubscribed.
	opMu sync.Mutex
	// callMu makes handler calls one at a time: messages come from the reader goroutine, resyncs
	// from run.
	callMu sync.Mutex

	mu      sync.RWMutex
	chans   map[string][]*liveHandler // copied on write, so dispatch reads without copying
	pending map[string]bool           // channels left by their last handler, not yet unsubscribed
	conn    rueidis.DedicatedClient   // nil while disconnected or closed
	nextID  uint64
	closed  bool
}

// newSubscriber opens the live connection and starts the goroutine that keeps it.
func newSubscriber(ctx context.Context, client rueidis.Client, log *slog.Logger) (*subscriber, error) {
	s := &subscriber{
		client: client, log: log, done: make(chan struct{}), unsub: make(chan struct{}, 1),
		chans: make(map[string][]*liveHandler), pending: make(map[string]bool),
	}
	conn, lost, err := s.connect(ctx)
	if err != nil {
		return nil, wrap("open live connection", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(runCtx, conn, lost)
	return s, nil
}

// connect opens a dedicated connection, installs the dispatcher and subscribes every channel that
// has handlers; then it tells those handlers to resync, since messages may have been missed.
func (s *subscriber) connect(ctx context.Context) (rueidis.DedicatedClient, <-chan error, error) {
	conn, _ := s.client.Dedicate()
	lost := conn.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: s.dispatch})
	if err := conn.Do(ctx, conn.B().Ping().Build()).Error(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	s.opMu.Lock()
	s.mu.RLock()
	chans := slices.Collect(maps.Keys(s.chans))
	s.mu.RUnlock()
	if len(chans) > 0 {
		if err := conn.Do(ctx, conn.B().Ssubscribe().Channel(chans...).Build()).Error(); err != nil {
			s.opMu.Unlock()
			conn.Close()
			return nil, nil, err
		}
	}
	s.mu.Lock()
	s.conn = conn
	clear(s.pending)
	for _, ch := range chans {
		if s.chans[ch] == nil {
			s.pending[ch] = true // its last handler left while it was being subscribed
		}
	}
	if len(s.pending) > 0 {
		s.signalUnsubscribe()
	}
	var resync []*liveHandler
	for _, hs := range s.chans {
		resync = append(resync, hs...)
	}
	s.mu.Unlock()
	s.opMu.Unlock()
	s.callMu.Lock()
	for _, h := range resync {
		h.resync()
	}
	s.callMu.Unlock()
	return conn, lost, nil
}

// run keeps the live connection until ctx ends: it sends the pending unsubscribes and reconnects
// with backoff after a loss.
func (s *subscriber) run(ctx context.Context, conn rueidis.DedicatedClient, lost <-chan error) {
	defer close(s.done)
	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(50*time.Millisecond), backoff.WithMaxInterval(maxBackoff), backoff.WithMaxElapsedTime(0))
	for {
		if conn != nil {
			err := s.serve(ctx, conn, lost)
			s.mu.Lock()
			s.conn = nil
			s.mu.Unlock()
			conn.Close()
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("live subscription connection lost; reconnecting", "error", err)
			bo.Reset()
		}
		t := time.NewTimer(bo.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		attempt, cancel := context.WithTimeout(ctx, connectTimeout)
		c, l, err := s.connect(attempt)
		cancel()
		if err != nil {
			conn = nil
			continue
		}
		s.log.Info("live subscription connection back")
		conn, lost = c, l
	}
}

// serve waits for the connection to drop or ctx to end, sending pending unsubscribes meanwhile.
func (s *subscriber) serve(ctx context.Context, conn rueidis.DedicatedClient, lost <-chan error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lost:
			return err
		case <-s.unsub:
			s.flushUnsubscribes(ctx, conn)
		}
	}
}

func (s *subscriber) flushUnsubscribes(ctx context.Context, conn rueidis.DedicatedClient) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	chans := slices.Collect(maps.Keys(s.pending))
	clear(s.pending)
	s.mu.Unlock()
	if len(chans) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	// A failure means the connection is gone; the next one subscribes only the channels that
	// still have handlers.
	if err := conn.Do(ctx, conn.B().Sunsubscribe().Channel(chans...).Build()).Error(); err != nil {
		s.log.Debug("unsubscribe failed", "channels", len(chans), "error", err)
	}
}

// dispatch runs on the connection's reader goroutine for every message.
func (s *subscriber) dispatch(m rueidis.PubSubMessage) {
	s.mu.RLock()
	hs := s.chans[m.Channel]
	s.mu.RUnlock()
	s.callMu.Lock()
	for _, h := range hs {
		h.msg(m.Message)
	}
	s.callMu.Unlock()
}

// subscribe registers handlers on channel and returns once Redis confirmed the subscription, so
// that every message published afterwards reaches msg. del removes the registration; it never
// blocks and may be called from msg.
func (s *subscriber) subscribe(ctx context.Context, channel string, msg func(string), resync func()) (del func(), err error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	conn := s.conn
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, ErrStoreClosed
	case conn == nil:
		s.mu.Unlock()
		return nil, fmt.Errorf("cluster: subscribe: %w: live connection down", ErrUnavailable)
	}
	s.nextID++
	h := &liveHandler{id: s.nextID, msg: msg, resync: resync}
	old := s.chans[channel]
	s.chans[channel] = append(slices.Clip(old), h)
	stillSubscribed := s.pending[channel]
	delete(s.pending, channel)
	s.mu.Unlock()
	if len(old) == 0 && !stillSubscribed {
		if err := conn.Do(ctx, conn.B().Ssubscribe().Channel(channel).Build()).Error(); err != nil {
			s.remove(channel, h.id)
			return nil, wrap("subscribe", err)
		}
	}
	var once sync.Once
	return func() { once.Do(func() { s.remove(channel, h.id) }) }, nil
}

// remove drops one handler; a channel left without handlers is unsubscribed by run.
func (s *subscriber) remove(channel string, id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.chans[channel]
	i := slices.IndexFunc(hs, func(h *liveHandler) bool { return h.id == id })
	switch {
	case i < 0:
		return
	case len(hs) > 1:
		s.chans[channel] = slices.Delete(slices.Clone(hs), i, i+1)
		return
	}
	delete(s.chans, channel)
	if s.conn == nil {
		return // no connection holds the subscription
	}
	s.pending[channel] = true
	s.signalUnsubscribe()
}

// connected reports whether the live connection is up.
func (s *subscriber) connected() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.conn != nil
}

// signalUnsubscribe wakes run to send the pending unsubscribes; it never blocks.
func (s *subscriber) signalUnsubscribe() {
	select {
	case s.unsub <- struct{}{}:
	default:
	}
}

// close stops run and closes the connection; handlers get no message afterwards.
func (s *subscriber) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	<-s.done
	s.mu.Lock()
	clear(s.chans)
	s.mu.Unlock()
}
