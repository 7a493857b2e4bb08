package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/streamgate/streamgate/manager"
)

// watchersPrefix starts the meta field in which a node keeps its count of a stream's local
// non-passive clients: "w:<node>" = "<count> <epoch>". The epoch ties the count to the lease it
// was written under, so a dead replica's count stops counting with its lease.
const watchersPrefix = "w:"

// SetWatchers records that this replica has n non-passive clients of an active stream (0 removes
// its field); a closed or unknown stream is left alone. Watchers sums every live replica's count.
func (s *Store) SetWatchers(ctx context.Context, id string, n int) error {
	epoch := s.epoch.Load()
	if epoch == nil {
		return fmt.Errorf("cluster: stream %s: node %s: %w: no lease held", id, s.cfg.NodeID, ErrUnavailable)
	}
	err := watchersScript.Exec(ctx, s.client, []string{metaKey(id)},
		[]string{watchersPrefix + s.cfg.NodeID, strconv.Itoa(n) + " " + *epoch}).Error()
	return wrap("set watchers of stream "+id, err)
}

// Watchers returns how many non-passive clients an active stream has on every replica whose
// lease still holds the epoch their count was written under. manager.ErrNotFound when Redis keeps
// no such stream.
func (s *Store) Watchers(ctx context.Context, id string) (int, error) {
	h, err := s.client.Do(ctx, s.client.B().Hgetall().Key(metaKey(id)).Build()).AsStrMap()
	if err != nil {
		return 0, wrap("watchers of stream "+id, err)
	}
	if len(h) == 0 {
		return 0, fmt.Errorf("stream %s: %w", id, manager.ErrNotFound)
	}
	type count struct {
		n     int
		epoch string
	}
	var counts []count
	var cmds rueidis.Commands
	for field, v := range h {
		node, ok := strings.CutPrefix(field, watchersPrefix)
		if !ok {
			continue
		}
		ns, epoch, _ := strings.Cut(v, " ")
		n, err := strconv.Atoi(ns)
		if err != nil {
			return 0, fmt.Errorf("cluster: stream %s: meta field %s: %w", id, field, err)
		}
		counts = append(counts, count{n, epoch})
		cmds = append(cmds, s.client.B().Get().Key(leaseKey(node)).Build())
	}
	total := 0
	for i, r := range s.client.DoMulti(ctx, cmds...) {
		held, err := r.ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			return 0, wrap("watchers of stream "+id, err)
		}
		if held == counts[i].epoch {
			total += counts[i].n
		}
	}
	return total, nil
}

// watchersScript writes or removes one node's count of an active stream's clients. KEYS: meta.
// ARGV: field, "<count> <epoch>".
var watchersScript = rueidis.NewLuaScript(`
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return 0 end
if string.sub(ARGV[2], 1, 2) == '0 ' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
`)
