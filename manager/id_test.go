package manager_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/streamgate/streamgate/manager"
)

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"a", true},
		{"team/a", true},
		{"...", true},
		{".a", true},
		{strings.Repeat("x", manager.MaxIDLen), true},
		{"", false},
		{strings.Repeat("x", manager.MaxIDLen+1), false},
		{".", false},
		{"..", false},
		{"a b", false},
		{"a\x7f", false},
		{"é", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			err := manager.ValidateID(tc.id)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, manager.ErrInvalidID)
			}
		})
	}
}
