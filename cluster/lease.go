package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redis/rueidis"

	"github.com/streamgate/streamgate/manager"
)

// acquireFirst takes the lease at start. A predecessor with the same node ID that died keeps its
// lease until it lapses, so New waits up to twice the lease for it before giving up.
func (s *Store) acquireFirst(ctx context.Context) error {
	deadline := time.Now().Add(2 * s.cfg.Lease)
	for {
		ok, err := s.acquire(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: node %s: %w (its lease was refreshed for %s)", s.cfg.NodeID, ErrNodeIDInUse, 2*s.cfg.Lease)
		}
		t := time.NewTimer(s.cfg.Lease / 4)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("cluster: take lease of node %s: %w", s.cfg.NodeID, ctx.Err())
		case <-t.C:
		}
	}
}

// acquire takes the lease under a new epoch; false means another epoch holds it.
func (s *Store) acquire(ctx context.Context) (bool, error) {
	epoch := newEpoch()
	sent := time.Now()
	n, err := acquireScript.Exec(ctx, s.client,
		[]string{leaseKey(s.cfg.NodeID), nodesKey},
		[]string{epoch, ms(s.cfg.Lease), nodeMember(s.cfg.NodeID, epoch)}).AsInt64()
	if err != nil {
		return false, wrap("take lease", err)
	}
	if n == 0 {
		return false, nil
	}
	s.epoch.Store(&epoch)
	s.until = sent.Add(s.cfg.Lease)
	s.setLeaseOK(true)
	return true, nil
}

// leaseLoop refreshes the lease once a third of it has passed since the last refresh was sent,
// until ctx ends; while it holds none, it tries to take one every third of the lease.
func (s *Store) leaseLoop(ctx context.Context) {
	t := time.NewTimer(s.nextRefresh())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.renew(ctx)
		t.Reset(s.nextRefresh())
	}
}

func (s *Store) nextRefresh() time.Duration {
	if !s.leaseOK.Load() {
		return s.cfg.Lease / 3
	}
	return max(time.Until(s.until)-2*s.cfg.Lease/3, 0)
}

// renew refreshes the lease, or takes a new one once it lapsed. Redis runs a late refresh as
// well as a punctual one, so an attempt may take all the time left on the lease (s.until, counted
// from when the last good refresh was sent, which Redis cannot have run earlier); an attempt
// that fails sooner (a broken connection) is tried again with backoff while time is left. Only
// when none succeeded in time is the replica not ready. Whether the lease lapsed is Redis's to
// say: the next refresh that reaches it finds the key gone (keepLease), or held still.
func (s *Store) renew(ctx context.Context) {
	wasOK := s.leaseOK.Load()
	prev, start := s.until, time.Now()
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(s.cfg.Lease/50),
		backoff.WithMaxInterval(s.cfg.Lease/10), backoff.WithMaxElapsedTime(0))
	for attempt := 1; ; attempt++ {
		held := wasOK && time.Until(prev) > 0
		deadline := prev
		if !held {
			deadline = time.Now().Add(s.cfg.Lease / 3)
		}
		actx, cancel := context.WithDeadline(ctx, deadline)
		err := s.keepLease(actx)
		cancel()
		switch {
		case err == nil:
			s.refreshed(wasOK, attempt, time.Until(prev), time.Since(start))
			return
		case ctx.Err() != nil:
			return
		}
		s.cfg.Observer.LeaseRefreshFailed()
		wait := bo.NextBackOff()
		if !held || errors.Is(err, ErrNodeIDInUse) || time.Until(prev) <= wait {
			s.setLeaseOK(false)
			if wasOK {
				s.log.Error("cluster lease not refreshed before it ran out; this replica is not ready",
					"attempts", attempt, "took", time.Since(start).Round(time.Millisecond), "error", err)
			}
			return
		}
		if attempt == 1 {
			s.log.Warn("cluster lease refresh failed; trying again while the lease lasts",
				"left", time.Until(prev).Round(time.Millisecond), "error", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// refreshed logs a refresh that came late, after a failure or with less than a third of the
// lease left: left is how close the lease came to lapsing.
func (s *Store) refreshed(wasOK bool, attempts int, left, took time.Duration) {
	switch {
	case !wasOK:
		s.log.Info("cluster lease held again; this replica is ready")
	case attempts > 1 || left < s.cfg.Lease/3:
		s.log.Warn("cluster lease refreshed late", "left", left.Round(time.Millisecond),
			"lease", s.cfg.Lease, "attempts", attempts, "took", took.Round(time.Millisecond))
	}
}

// sweepLoop sweeps dead replicas' streams every third of the lease while this replica holds its
// lease, until ctx ends. It runs beside the lease loop so that a long sweep never delays a
// refresh.
func (s *Store) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.leaseOK.Load() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, s.cfg.Lease)
		if _, err := s.Sweep(sctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep of dead replicas' streams failed", "error", err)
		}
		cancel()
	}
}

// keepLease refreshes the lease, or takes a new one when it lapsed.
func (s *Store) keepLease(ctx context.Context) error {
	if epoch := s.epoch.Load(); epoch != nil {
		sent := time.Now()
		n, err := refreshScript.Exec(ctx, s.client, []string{leaseKey(s.cfg.NodeID)}, []string{*epoch, ms(s.cfg.Lease)}).AsInt64()
		if err != nil {
			return wrap("refresh lease", err)
		}
		if n == 1 {
			s.cfg.Observer.LeaseRefreshed(max(time.Until(s.until), 0))
			s.until = sent.Add(s.cfg.Lease)
			s.setLeaseOK(true)
			return nil
		}
		s.epoch.Store(nil)
		s.setLeaseOK(false)
		s.log.Error("cluster lease lapsed; the other replicas end the streams this one owned", "epoch", *epoch)
		s.leaseLost()
	}
	ok, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("cluster: node %s: %w", s.cfg.NodeID, ErrNodeIDInUse)
	}
	return nil
}

// setLeaseOK records whether the lease is held, for Ready and for the Observer.
func (s *Store) setLeaseOK(ok bool) {
	s.leaseOK.Store(ok)
	s.cfg.Observer.LeaseHeld(ok)
}

// WatchLeaseLost registers fn to be called, as Config.OnLeaseLost is, whenever this replica finds
// that its lease lapsed: the owner of the streams (the replica view, Node) stops producing them.
// fn runs on the lease goroutine and must not block. undo removes it.
func (s *Store) WatchLeaseLost(fn func()) (undo func()) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.watchers == nil {
		s.watchers = make(map[uint64]func())
	}
	s.nextWatch++
	n := s.nextWatch
	s.watchers[n] = fn
	return func() {
		s.watchMu.Lock()
		delete(s.watchers, n)
		s.watchMu.Unlock()
	}
}

// leaseLost tells Config.OnLeaseLost and every watcher.
func (s *Store) leaseLost() {
	if s.cfg.OnLeaseLost != nil {
		s.cfg.OnLeaseLost()
	}
	s.watchMu.Lock()
	fns := slices.Collect(maps.Values(s.watchers))
	s.watchMu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// release deletes the lease if this replica still holds it and forgets its epoch when it owns no
// stream any more.
func (s *Store) release(ctx context.Context) error {
	epoch := s.epoch.Swap(nil)
	s.setLeaseOK(false)
	if epoch == nil {
		return nil
	}
	lease := leaseKey(s.cfg.NodeID)
	if err := releaseScript.Exec(ctx, s.client, []string{lease}, []string{*epoch}).Error(); err != nil {
		return wrap("release lease", err)
	}
	return wrap("forget epoch", s.forget(ctx, s.cfg.NodeID, *epoch))
}

func (s *Store) forget(ctx context.Context, node, epoch string) error {
	return forgetScript.Exec(ctx, s.client,
		[]string{nodesKey, ownedKey(node, epoch), leaseKey(node)},
		[]string{nodeMember(node, epoch), epoch}).Error()
}

// Sweep ends, with an error chunk 503 UNAVAILABLE "replica <node> lost", every active stream
// whose owner's lease lapsed, and returns how many this call ended. Every replica sweeps every
// third of its lease; the takeover script lets exactly one of them end each stream. The
// Observer counts the streams ended, also when an error cut the sweep short.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	n, err := s.sweep(ctx)
	if n > 0 {
		s.cfg.Observer.StreamsSwept(n)
	}
	return n, err
}

func (s *Store) sweep(ctx context.Context) (int, error) {
	members, err := s.client.Do(ctx, s.client.B().Smembers().Key(nodesKey).Build()).AsStrSlice()
	if err != nil {
		return 0, wrap("sweep", err)
	}
	type lease struct{ node, epoch string }
	var leases []lease
	var gets rueidis.Commands
	for _, m := range members {
		node, epoch, ok := strings.Cut(m, " ")
		if !ok {
			continue
		}
		leases = append(leases, lease{node, epoch})
		gets = append(gets, s.client.B().Get().Key(leaseKey(node)).Build())
	}
	if len(gets) == 0 {
		return 0, nil
	}
	ended := 0
	var errs []error
	for i, r := range s.client.DoMulti(ctx, gets...) {
		held, err := r.ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			return ended, wrap("sweep", err)
		}
		if held == leases[i].epoch {
			continue
		}
		n, err := s.sweepEpoch(ctx, leases[i].node, leases[i].epoch)
		ended += n
		errs = append(errs, err)
	}
	return ended, errors.Join(errs...)
}

// sweepEpoch ends the streams a lapsed lease epoch owned, then forgets the epoch.
func (s *Store) sweepEpoch(ctx context.Context, node, epoch string) (int, error) {
	ids, err := s.client.Do(ctx, s.client.B().Smembers().Key(ownedKey(node, epoch)).Build()).AsStrSlice()
	if err != nil {
		return 0, wrap("sweep", err)
	}
	ended := 0
	for _, id := range ids {
		ok, err := s.takeover(ctx, id, node, epoch)
		if err != nil {
			return ended, err
		}
		if ok {
			ended++
			s.log.Warn("stream ended: its owner's lease lapsed", "stream_id", id, "owner", node)
		}
	}
	return ended, wrap("sweep", s.forget(ctx, node, epoch))
}

// lostError is the error chunk that ends the streams of a dead replica.
func lostError(node string) *manager.StreamError {
	return &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "replica " + node + " lost"}
}

// takeover runs takeoverScript for one stream; true means this call ended it.
func (s *Store) takeover(ctx context.Context, id, node, epoch string) (bool, error) {
	se := lostError(node)
	n, err := takeoverScript.Exec(ctx, s.client,
		[]string{metaKey(id), histKey(id), activeKey, ownedKey(node, epoch), leaseKey(node)},
		[]string{liveChannel(id), id, node, epoch, manager.ReasonTerminatedPrefix + se.Message, string(se.JSON()),
			micros(time.Now()), ms(s.cfg.RetainClosed)}).AsInt64()
	if err != nil {
		return false, wrap("take over stream "+id, err)
	}
	return n == 1, nil
}

// leaseHeld reports whether node still holds its lease under epoch: false once it shut down,
// died or took another epoch.
func (s *Store) leaseHeld(ctx context.Context, node, epoch string) (bool, error) {
	held, err := s.client.Do(ctx, s.client.B().Get().Key(leaseKey(node)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	if err != nil {
		return false, wrap("lease of node "+node, err)
	}
	return held == epoch, nil
}
