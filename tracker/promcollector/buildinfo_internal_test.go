package promcollector

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBuildInfoLabels(t *testing.T) {
	dep := func(path, version string, replace *debug.Module) *debug.Module {
		return &debug.Module{Path: path, Version: version, Replace: replace}
	}
	for _, c := range []struct {
		name    string
		bi      *debug.BuildInfo
		ok      bool
		version string
		backend string
	}{
		{"no build info", nil, false, "devel", "host"},
		{"main module from a working tree", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"}}, true, "devel", "host"},
		{"main module stamped", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v0.1.0"}}, true, "v0.1.0", "host"},
		{"a dependency", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{dep("github.com/other/x", "v9.0.0", nil), dep(modulePath, "v0.2.1", nil)}}, true, "v0.2.1", "host"},
		{"a replaced dependency", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{dep(modulePath, "v0.2.1", dep("../membridge", "", nil))}}, true, "devel", "host"},
		{"a dependency replaced by a version", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{dep(modulePath, "v0.2.1", dep("example.com/fork", "v0.2.2", nil))}}, true, "v0.2.2", "host"},
		{"not a dependency", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"}}, true, "devel", "host"},
		{"cuda tag", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "-tags", Value: "netgo,cuda"}}}, true, "devel", "cuda"},
		{"a tag that only contains cuda", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "-tags", Value: "nocuda"}}}, true, "devel", "host"},
	} {
		assert.Equal(t, c.version, moduleVersion(c.bi, c.ok), c.name)
		assert.Equal(t, c.backend, buildBackend(c.bi, c.ok), c.name)
	}
	for rate, mode := range map[int64]string{0: "off", 1: "all", 512 << 10: "sampled"} {
		assert.Equal(t, mode, trackingMode(rate), "rate %d", rate)
	}
}
