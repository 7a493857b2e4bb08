package sdk

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDecodeConfig(t *testing.T) {
	type rule struct {
		Codes []int `json:"codes"`
	}
	type cfg struct {
		Dir   string `json:"dir"`
		Rules []rule `json:"rules"`
	}
	for _, tc := range []struct {
		name string
		raw  string
		want cfg
		diag Diagnostics
	}{
		{name: "empty keeps defaults", raw: "", want: cfg{Dir: "default"}},
		{name: "null keeps defaults", raw: " null ", want: cfg{Dir: "default"}},
		{name: "valid", raw: `{"dir":"/x","rules":[{"codes":[503]}]}`, want: cfg{Dir: "/x", Rules: []rule{{Codes: []int{503}}}}},
		{name: "unknown field", raw: `{"dri":"/x"}`, want: cfg{Dir: "default"},
			diag: Diagnostics{{Severity: SeverityError, Summary: `unknown field "dri"`, Path: "/dri"}}},
		{name: "wrong type nested", raw: `{"rules":[{"codes":["x"]}]}`, want: cfg{Dir: "default", Rules: []rule{{Codes: []int{0}}}},
			diag: Diagnostics{{Severity: SeverityError, Summary: "expected int, got JSON string", Path: "/rules/codes"}}},
		{name: "syntax", raw: `{"dir":`, want: cfg{Dir: "default"},
			diag: Diagnostics{{Severity: SeverityError, Summary: "configuration is not valid JSON", Detail: "unexpected EOF"}}},
		{name: "trailing data", raw: `{"dir":"/x"} {}`, want: cfg{Dir: "/x"},
			diag: Diagnostics{{Severity: SeverityError, Summary: "configuration has data after its JSON value"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cfg{Dir: "default"}
			err := DecodeConfig(json.RawMessage(tc.raw), &got)
			if tc.diag == nil {
				assert.NoError(t, err)
			} else {
				assert.Equal(t, tc.diag, err)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDiagnostics(t *testing.T) {
	d := Diagnostics{
		{Severity: SeverityWarning, Summary: "deprecated", Path: "/old"},
		{Severity: SeverityError, Summary: "required", Detail: "no value"},
	}
	assert.True(t, d.HasError())
	assert.False(t, d[:1].HasError())
	assert.Equal(t, "warning at /old: deprecated; error: required (no value)", d.Error())
	assert.Equal(t, d, DiagnosticsFrom(fmt.Errorf("configure: %w", d)))
	assert.Equal(t, Diagnostics{{Severity: SeverityError, Summary: "plain"}}, DiagnosticsFrom(fmt.Errorf("plain")))
	assert.Nil(t, DiagnosticsFrom(nil))
}
