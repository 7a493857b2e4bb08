package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

func TestCloseStatusIsBounded(t *testing.T) {
	gen := map[string]string{manager.LabelKind: gateway.KindGenerate}
	push := map[string]string{manager.LabelKind: gateway.KindPush}
	failed := func(code int) manager.StreamInfo {
		se := &manager.StreamError{Code: code, Status: manager.StatusForCode(code), Message: "any words at all"}
		return manager.StreamInfo{Status: manager.StatusError, Err: se, CloseReason: manager.ReasonTerminatedPrefix + se.Message, Labels: gen}
	}
	for _, tc := range []struct {
		name string
		info manager.StreamInfo
		want string
	}{
		{"completed", manager.StreamInfo{Status: manager.StatusCompleted, CloseReason: manager.ReasonCompleted, Labels: gen}, "completed"},
		{"skipped error", manager.StreamInfo{Status: manager.StatusCompleted, CloseReason: upstream.ReasonSkippedPrefix + "busy", Labels: gen}, "completed"},
		{"any other reason", manager.StreamInfo{Status: manager.StatusCompleted, CloseReason: "free text"}, "completed"},
		{"push stream deleted", manager.StreamInfo{Status: manager.StatusCompleted, CloseReason: gateway.ReasonDeleted, Labels: push}, "completed"},
		{"generation deleted", manager.StreamInfo{Status: manager.StatusCompleted, CloseReason: gateway.ReasonDeleted, Labels: gen}, "cancelled"},
		{"last subscriber left", manager.StreamInfo{Status: manager.StatusCompleted, CloseReason: gateway.ReasonClientDisconnected, Labels: gen}, "cancelled"},
		{"caller cancelled", failed(499), "cancelled"},
		{"timeout", failed(504), "timeout"},
		{"upstream error", failed(503), "error"},
		{"bad request", failed(400), "error"},
		{"shutdown", manager.StreamInfo{Status: manager.StatusError, CloseReason: manager.ReasonShuttingDown,
			Err: &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: manager.ReasonShuttingDown}}, "shutdown"},
		{"not started at shutdown", manager.StreamInfo{Status: manager.StatusCompleted, CloseReason: manager.ReasonShuttingDown}, "shutdown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, closeStatus(tc.info))
		})
	}
}
