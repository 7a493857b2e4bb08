package telemetry

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBuildInfoFrom(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want BuildInfo
	}{
		{"no build info", nil, false, BuildInfo{"devel", "unknown", runtime.Version()}},
		{"working tree without vcs", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true,
			BuildInfo{"devel", "unknown", "go1.26.8"}},
		{"tagged with vcs", &debug.BuildInfo{
			GoVersion: "go1.26.8",
			Main:      debug.Module{Version: "v1.4.0"},
			Settings:  []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "9f8e7d6c"}, {Key: "vcs.modified", Value: "false"}},
		}, true, BuildInfo{"v1.4.0", "9f8e7d6c", "go1.26.8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, buildInfoFrom(tc.bi, tc.ok))
		})
	}
}

func TestBuildInfoString(t *testing.T) {
	assert.Equal(t, "streamgate v1.4.0 (revision 9f8e7d6c, go1.26.8)", BuildInfo{"v1.4.0", "9f8e7d6c", "go1.26.8"}.String())
}
