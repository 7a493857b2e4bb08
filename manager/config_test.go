package manager_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

func TestNewFillsDefaults(t *testing.T) {
	m, err := manager.New(manager.Config{})
	require.NoError(t, err)
	cfg := m.Config()
	require.Equal(t, 1000, cfg.MaxConcurrentStreams)
	require.Equal(t, 10000, cfg.MaxClientsPerStream)
	require.Equal(t, manager.LogAndContinue, cfg.OnClientSendError)
	require.Equal(t, 5*time.Minute, cfg.InactivityTimeout)
	require.Equal(t, 4096, cfg.HistorySize)
	require.Equal(t, 5*time.Minute, cfg.RetainClosed)
	require.Equal(t, 8192, cfg.SubscriptionQueue)
	require.Equal(t, int64(16<<20), cfg.HistoryBytes)
	require.Equal(t, int64(1<<30), cfg.MaxBytes)
	require.Equal(t, 10000, cfg.MaxRetained)
	require.NotNil(t, cfg.Logger)
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		field string
		cfg   manager.Config
	}{
		{"MaxConcurrentStreams", manager.Config{MaxConcurrentStreams: -1}},
		{"MaxClientsPerStream", manager.Config{MaxClientsPerStream: -1}},
		{"InactivityTimeout", manager.Config{InactivityTimeout: -time.Second}},
		{"HistorySize", manager.Config{HistorySize: -1}},
		{"RetainClosed", manager.Config{RetainClosed: -time.Second}},
		{"SubscriptionQueue", manager.Config{SubscriptionQueue: -1}},
		{"HistoryBytes", manager.Config{HistoryBytes: -1}},
		{"MaxBytes", manager.Config{MaxBytes: -1}},
		{"MaxRetained", manager.Config{MaxRetained: -1}},
		{"OnClientSendError", manager.Config{OnClientSendError: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			_, err := manager.New(tt.cfg)
			require.ErrorIs(t, err, manager.ErrInvalidConfig)
			require.ErrorContains(t, err, tt.field)
		})
	}
}

func TestSendErrorModeString(t *testing.T) {
	require.Equal(t, "log-and-continue", manager.LogAndContinue.String())
	require.Equal(t, "deregister-client", manager.DeregisterClient.String())
	require.Equal(t, "throw", manager.Throw.String())
	require.Equal(t, "SendErrorMode(9)", manager.SendErrorMode(9).String())
}
