package cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/rueidis"

	"github.com/streamgate/streamgate/manager"
)

// watchedPrefix starts the meta field by which a node says it has non-passive clients of a
// stream: "w:<node>" = its lease epoch. The epoch ties the field to the lease it was written
// under, so a dead replica's field stops counting with its lease.
const watchedPrefix = "w:"

// SetWatched records, under this replica's current lease epoch (returned), whether it has
// non-passive clients of an active stream (false removes its field); a closed or unknown stream is
// left alone. Watched asks every live replica's.
func (s *Store) SetWatched(ctx context.Context, id string, watched bool) (epoch string, err error) {
	e := s.epoch.Load()
	if e == nil {
		return "", fmt.Errorf("cluster: stream %s: node %s: %w: no lease held", id, s.cfg.NodeID, ErrUnavailable)
	}
	epoch = *e
	value := ""
	if watched {
		value = epoch
	}
	err = watchedScript.Exec(ctx, s.client, []string{metaKey(id)},
		[]string{watchedPrefix + s.cfg.NodeID, value}).Error()
	return epoch, wrap("set watched of stream "+id, err)
}

// Watched reports whether any replica whose lease still holds the epoch it wrote its field under
// has non-passive clients of the stream. manager.ErrNotFound when Redis keeps no such stream.
func (s *Store) Watched(ctx context.Context, id string) (bool, error) {
	h, err := s.client.Do(ctx, s.client.B().Hgetall().Key(metaKey(id)).Build()).AsStrMap()
	if err != nil {
		return false, wrap("watched of stream "+id, err)
	}
	if len(h) == 0 {
		return false, fmt.Errorf("stream %s: %w", id, manager.ErrNotFound)
	}
	var epochs []string
	var cmds rueidis.Commands
	for field, epoch := range h {
		if node, ok := strings.CutPrefix(field, watchedPrefix); ok {
			epochs = append(epochs, epoch)
			cmds = append(cmds, s.client.B().Get().Key(leaseKey(node)).Build())
		}
	}
	for i, r := range s.client.DoMulti(ctx, cmds...) {
		held, err := r.ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			return false, wrap("watched of stream "+id, err)
		}
		if held == epochs[i] {
			return true, nil
		}
	}
	return false, nil
}

// watchedScript writes (ARGV[2] an epoch) or removes (ARGV[2] empty) one node's field of an
// active stream. KEYS: meta. ARGV: field, epoch or "".
var watchedScript = rueidis.NewLuaScript(`
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return 0 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
`)
