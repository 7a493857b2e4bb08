package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/rueidis"
)

// Sentinel errors of the cluster layer. Stream errors reuse manager's sentinels (ErrNotFound,
// ErrExists, ErrTooManyStreams, ErrClosed, ErrHistoryTrimmed, ErrInvalidAfterID, ErrInvalidID) so
// that one mapping to HTTP statuses serves both modes.
var (
	// ErrUnavailable means Redis could not be reached or could not serve the command (down,
	// loading, out of memory) or this replica holds no lease. Callers answer 503 UNAVAILABLE with
	// Retry-After: the operation may work after RetryAfter. Its method Unavailable() bool tells
	// it to callers that must not import cluster (the gateway) through errors.As.
	ErrUnavailable error = unavailableError{}
	// ErrNodeIDInUse means another live replica holds this NodeID's lease.
	ErrNodeIDInUse = errors.New("node id is held by another live replica")
	// ErrStoreClosed is returned by a Store after Close.
	ErrStoreClosed = errors.New("cluster store closed")
)

// unavailableError is ErrUnavailable's type.
type unavailableError struct{}

func (unavailableError) Error() string { return "cluster store unavailable" }

// Unavailable reports that the operation may work after RetryAfter.
func (unavailableError) Unavailable() bool { return true }

// RetryAfter is what a caller should tell its client to wait after ErrUnavailable: reconnects
// back off up to this interval.
const RetryAfter = maxBackoff

// unavailableReplies are the Redis error replies that mean "try again later", not a bug.
var unavailableReplies = []string{"LOADING", "BUSY", "OOM", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"}

// wrap turns a client error into the Store's error for op: context errors stay themselves, Redis
// replies that mean "try later" and every connection error wrap ErrUnavailable, other replies are
// reported as they are.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cluster: %s: %w", op, err)
	}
	if errors.Is(err, rueidis.ErrClosing) {
		return fmt.Errorf("cluster: %s: %w", op, ErrStoreClosed)
	}
	if re, ok := rueidis.IsRedisErr(err); ok {
		msg := re.Error()
		for _, p := range unavailableReplies {
			if strings.HasPrefix(msg, p) {
				return fmt.Errorf("cluster: %s: %w: redis replied %s", op, ErrUnavailable, msg)
			}
		}
		return fmt.Errorf("cluster: %s: redis replied: %s", op, msg)
	}
	return fmt.Errorf("cluster: %s: %w: %w", op, ErrUnavailable, err)
}
