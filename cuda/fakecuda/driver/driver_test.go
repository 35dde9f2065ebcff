package driver_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/membridge/membridge/cuda/fakecuda/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// needsCudaH skips a test that compiles the stand-in where cuda.h is
// missing, unless MEMBRIDGE_FAKECUDA=1 says the run is meant to have it.
func needsCudaH(t *testing.T) {
	t.Helper()
	cmd := exec.Command("cc", "-E", "-x", "c", "-")
	cmd.Stdin = strings.NewReader("#include <cuda.h>\n")
	if err := cmd.Run(); err != nil {
		if os.Getenv(driver.Required) == "1" {
			t.Fatalf("%s=1 but cuda.h cannot be included: %v", driver.Required, err)
		}
		t.Skip("no cuda.h (Debian: nvidia-cuda-dev)")
	}
}

func TestBuild(t *testing.T) {
	needsCudaH(t)
	dir := filepath.Join(t.TempDir(), "lib")
	if driver.Built(dir) {
		t.Fatal("Built before Build")
	}
	require.NoError(t, driver.Build(dir))
	require.True(t, driver.Built(dir), "not Built after Build")
	if target, err := os.Readlink(filepath.Join(dir, "libcuda.so")); err != nil || target != driver.Library {
		t.Fatalf("libcuda.so -> %q, %v; want %s", target, err, driver.Library)
	}
	// The library is the driver: it defines the calls and the stand-in's
	// own interface.
	out, err := exec.Command("nm", "-D", "--defined-only", filepath.Join(dir, driver.Library)).Output()
	require.NoError(t, err)
	for _, sym := range []string{"cuInit", "cuMemAlloc_v2", "cuLaunchKernel", "mbfake_read_counters"} {
		assert.True(t, slices.Contains(strings.Fields(string(out)), sym), "%s does not define %s", driver.Library, sym)
	}
	// A second Build of the same sources finds the first; no work dir is
	// left behind.
	fi, _ := os.Stat(filepath.Join(dir, driver.Library))
	require.NoError(t, driver.Build(dir))
	fi2, _ := os.Stat(filepath.Join(dir, driver.Library))
	assert.True(t, fi.ModTime().Equal(fi2.ModTime()), "a second Build rebuilt the library")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".build-") {
			t.Errorf("left behind %s", e.Name())
		}
	}
	// A stale stamp (other sources) makes it rebuild.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".membridge-fakecuda-sources"), []byte("stale\n"), 0o644))
	if driver.Built(dir) {
		t.Error("Built with a stale stamp")
	}
	if err := driver.Build(dir); err != nil || !driver.Built(dir) {
		t.Fatalf("rebuild: %v", err)
	}
}

func TestBuildFailures(t *testing.T) {
	if err := driver.Build(""); err == nil {
		t.Error("Build(\"\") succeeded")
	}
	t.Setenv("CC", "membridge-no-such-compiler")
	err := driver.Build(filepath.Join(t.TempDir(), "lib"))
	if err == nil || !strings.Contains(err.Error(), "membridge-no-such-compiler") {
		t.Errorf("Build with a missing compiler: %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/cache")
	dir, err := driver.DefaultDir()
	require.NoError(t, err)
	if !strings.HasPrefix(dir, "/cache/membridge-fakecuda/") || len(filepath.Base(dir)) != 16 {
		t.Errorf("DefaultDir = %q", dir)
	}
	again, _ := driver.DefaultDir()
	assert.Equal(t, dir, again, "DefaultDir changed")
}

func TestEnvKeepsWhatIsSet(t *testing.T) {
	set := map[string]string{"CGO_LDFLAGS": "-L/opt/x -lm", "LD_LIBRARY_PATH": "/opt/x"}
	got := driver.Env("/lib/fake", func(k string) string { return set[k] })
	want := []string{"CGO_LDFLAGS=-L/lib/fake -L/opt/x -lm", "LD_LIBRARY_PATH=/lib/fake:/opt/x", "MEMBRIDGE_FAKECUDA=1"}
	assert.True(t, slices.Equal(got, want), "Env = %q, want %q", got, want)
}

// The environment go test needs to link and load the stand-in in a
// directory; the library itself comes from Build.
func ExampleEnv() {
	for _, kv := range driver.Env("/tmp/fakecuda", func(string) string { return "" }) {
		fmt.Println(kv)
	}
	// Output:
	// CGO_LDFLAGS=-L/tmp/fakecuda
	// LD_LIBRARY_PATH=/tmp/fakecuda
	// MEMBRIDGE_FAKECUDA=1
}

// Build the library where a test run will find it, then run go test with
// Env added to the environment.
func ExampleBuild() {
	dir, err := driver.DefaultDir()
	if err == nil {
		err = driver.Build(dir)
	}
	if err != nil {
		fmt.Println(err) // no cuda.h, no compiler
		return
	}
	cmd := exec.Command("go", "test", "-tags", "cuda", "-count=1", "./...")
	cmd.Env = append(os.Environ(), driver.Env(dir, os.Getenv)...)
	_ = cmd // cmd.Run()
}
