package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The example runs end to end in a short load and writes what the docs
// show: the profile, the trace, the timeline page and the report.
func TestRunWritesWhatTheDocsShow(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, run(out, 300*time.Millisecond, 64<<10, ""))
	for _, name := range []string{"profile.pb.gz", "trace.json", "timeline.html", "report.txt"} {
		fi, err := os.Stat(filepath.Join(out, name))
		require.NoError(t, err)
		require.NotZero(t, fi.Size(), name)
	}
	report, err := os.ReadFile(filepath.Join(out, "report.txt"))
	require.NoError(t, err)
	require.Contains(t, string(report), "model-weights", "the report names the largest allocation site's tag")
}
