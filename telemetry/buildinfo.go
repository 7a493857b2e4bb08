package telemetry

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// BuildInfo describes the running binary; it is the streamgate_build_info labels and the
// output of streamgate -version.
type BuildInfo struct {
	// Version is the main module's version, or "devel" for a build from a working tree.
	Version string
	// Revision is the VCS revision the binary was built from, or "unknown" when the build did
	// not stamp one (go build -buildvcs=false, or outside a repository).
	Revision string
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
}

// ReadBuildInfo reads the binary's BuildInfo with runtime/debug.ReadBuildInfo.
func ReadBuildInfo() BuildInfo {
	return buildInfoFrom(debug.ReadBuildInfo())
}

func buildInfoFrom(bi *debug.BuildInfo, ok bool) BuildInfo {
	b := BuildInfo{Version: "devel", Revision: "unknown", GoVersion: runtime.Version()}
	if !ok {
		return b
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		b.Version = v
	}
	if bi.GoVersion != "" {
		b.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			b.Revision = s.Value
		}
	}
	return b
}

// String is the line streamgate -version prints.
func (b BuildInfo) String() string {
	return fmt.Sprintf("streamgate %s (revision %s, %s)", b.Version, b.Revision, b.GoVersion)
}
