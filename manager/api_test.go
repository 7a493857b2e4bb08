package manager_test

import (
	"context"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// The exported API the streamgate issues fix, signature by signature: later packages and outside
// checks build on these names, so a change here must be deliberate.
var (
	_ func(manager.Config) (*manager.Manager, error)                                         = manager.New
	_ func(*manager.Manager, context.Context, string) (string, error)                        = (*manager.Manager).CreateStream
	_ func(*manager.Manager, context.Context, string, manager.Client) error                  = (*manager.Manager).RegisterClient
	_ func(*manager.Manager, context.Context, string, manager.Client, uint64) error          = (*manager.Manager).RegisterClientFrom
	_ func(*manager.Manager, context.Context, string, string) error                          = (*manager.Manager).DeregisterClient
	_ func(*manager.Manager, context.Context, string, manager.Chunk) error                   = (*manager.Manager).PushChunk
	_ func(*manager.Manager, context.Context, string, string) error                          = (*manager.Manager).CloseStream
	_ func(*manager.Manager, context.Context, string, error, bool) error                     = (*manager.Manager).HandleStreamError
	_ func(*manager.Manager, context.Context) ([]string, error)                              = (*manager.Manager).ActiveStreamIDs
	_ func(*manager.Manager, context.Context, string) (int, error)                           = (*manager.Manager).ClientCount
	_ func(*manager.Manager, context.Context, string) (manager.StreamInfo, error)            = (*manager.Manager).Info
	_ func(*manager.Manager, context.Context) ([]manager.StreamInfo, error)                  = (*manager.Manager).List
	_ func(*manager.Manager, context.Context, string, uint64) (*manager.Subscription, error) = (*manager.Manager).Subscribe
	_ func(*manager.Subscription, context.Context) (manager.Chunk, error)                    = (*manager.Subscription).Next
	_ func(*manager.Subscription) error                                                      = (*manager.Subscription).Close
	_ func(*manager.Manager, context.Context) error                                          = (*manager.Manager).Shutdown

	_ = manager.Chunk{ID: 1, Event: "", Data: []byte(nil), Err: (*manager.StreamError)(nil), Time: time.Time{}}
	_ = manager.StreamError{Code: 500, Status: "INTERNAL", Message: ""}
	_ = manager.Config{
		MaxConcurrentStreams: 1, MaxClientsPerStream: 1, OnClientSendError: manager.LogAndContinue,
		InactivityTimeout: time.Second, HistorySize: 1, RetainClosed: time.Second, Logger: nil,
	}
	_ = []manager.SendErrorMode{manager.LogAndContinue, manager.DeregisterClient, manager.Throw}
	_ = manager.StreamInfo{
		ID: "", Status: manager.StatusActive, CreatedAt: time.Time{}, ClosedAt: time.Time{}, Clients: 0,
		LastChunkID: 0, CloseReason: "", Err: (*manager.StreamError)(nil),
	}
	_ = []manager.Status{manager.StatusActive, manager.StatusCompleted, manager.StatusError}
	_ = []error{
		manager.ErrNotFound, manager.ErrExists, manager.ErrTooManyStreams, manager.ErrTooManyClients,
		manager.ErrClientExists, manager.ErrClosed, manager.ErrHistoryTrimmed, manager.ErrShutdown,
		manager.ErrInvalidConfig, manager.ErrInvalidID,
		&manager.ClientError{ClientID: "", Err: nil}, &manager.ClosedError{},
		manager.ErrBudgetExhausted, &manager.LimitError{Op: "", Err: nil, Limit: 0, RetryAfter: manager.LimitRetryAfter},
	}
	_ func(*manager.Manager, context.Context) (manager.Usage, error)                 = (*manager.Manager).Usage
	_ func(*manager.Manager, context.Context, string) (manager.Usage, error)         = (*manager.Manager).TenantUsage
	_ func(manager.Config, string) manager.Quota                                     = manager.Config.QuotaFor
	_                                                                                = manager.Config{DefaultQuota: manager.Quota{MaxStreams: 1, MaxBytes: 1}, Quotas: map[string]manager.Quota{manager.LabelTenant: {}}}
	_ func(string, manager.Sink, manager.QueueConfig) (*manager.QueuedClient, error) = manager.NewQueuedClient
)

// The Client interface is exactly the four methods.
type exactClient interface {
	ID() string
	SendChunk(ctx context.Context, ch manager.Chunk) error
	NotifyStreamClosed(ctx context.Context, reason string) error
	Active() bool
}

var (
	_ manager.Client = exactClient(nil)
	_ exactClient    = manager.Client(nil)
)
