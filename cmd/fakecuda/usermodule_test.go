package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// UserModuleEnv turns on TestUserModule (make user-module-test, CI step
// 35-user-module.sh): it compiles membridge twice in a fresh module and
// needs cuda.h, so the plain test run leaves it out.
const UserModuleEnv = "MEMBRIDGE_USER_MODULE_TEST"

// userModuleTimeout bounds the whole test: the cuda-tagged build compiles
// gorgonia.org/cu and membridge with the module's own CGO_LDFLAGS, about a
// minute on a loaded 2-core machine with a warm build cache.
const userModuleTimeout = 8 * time.Minute

// The documented steps (docs/cuda-without-gpu.md, "In your own module"),
// word for word: what a user's CI runs.
const documentedSteps = `eval "$(go run github.com/membridge/membridge/cmd/fakecuda env)"
go test -tags cuda -count=1 ./...`

// TestUserModule plays a user: a fresh module that requires membridge
// (replaced by this checkout), with a plain leak test and a cuda-tagged
// test that allocates device memory, copies and launches a built-in
// kernel (testdata/usermod, the files the documentation shows). The
// documented steps must pass; with a planted device leak added
// (testdata/planted) they must fail, the report naming the leak.
func TestUserModule(t *testing.T) {
	if os.Getenv(UserModuleEnv) != "1" {
		t.Skipf("set %s=1 to run (needs cuda.h; make user-module-test)", UserModuleEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), userModuleTimeout)
	defer cancel()
	gobin, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		t.Fatal(err)
	}
	checkout, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	mod := filepath.Join(tmp, "usermod")
	copyDir(t, "testdata/usermod", mod)
	gomod := "module example.com/usermod\n\ngo 1.24.0\n\n" +
		"require github.com/membridge/membridge v0.0.0\n\n" +
		"replace github.com/membridge/membridge => " + checkout + "\n"
	writeFile(t, filepath.Join(mod, "go.mod"), gomod)
	// membridge's go.sum holds every sum the module can need, so tidy
	// resolves from the module cache with no network.
	sum, err := os.ReadFile(filepath.Join(checkout, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(mod, "go.sum"), string(sum))

	// The user's environment: none of the stand-in's settings, the build
	// cache shared (it would otherwise move with XDG_CACHE_HOME), and a
	// cache directory of its own, so the library is built afresh.
	gocache, err := exec.Command(gobin, "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "CGO_LDFLAGS", "LD_LIBRARY_PATH", "MEMBRIDGE_FAKECUDA", "XDG_CACHE_HOME", "GOCACHE", "GOFLAGS", "PATH":
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"PATH="+filepath.Dir(gobin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"XDG_CACHE_HOME="+filepath.Join(tmp, "cache"),
		"GOCACHE="+strings.TrimSpace(string(gocache)),
		"GOFLAGS=-mod=mod -buildvcs=false",
	)
	sh := func(t *testing.T, script string, extra ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = mod
		cmd.Env = append(append([]string{}, env...), extra...)
		cmd.WaitDelay = 10 * time.Second
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("over %v: %s\n%s", userModuleTimeout, script, out.String())
		}
		return out.String(), err
	}
	if out, err := sh(t, "go mod tidy", "GOPROXY=off"); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}

	t.Run("plain", func(t *testing.T) {
		out, err := sh(t, "go test -count=1 ./...")
		if err != nil || !strings.Contains(out, "ok  \texample.com/usermod") {
			t.Fatalf("go test without the cuda tag: %v\n%s", err, out)
		}
	})
	t.Run("documented", func(t *testing.T) {
		out, err := sh(t, documentedSteps)
		if err != nil || !strings.Contains(out, "ok  \texample.com/usermod") {
			t.Fatalf("the documented steps: %v\n%s", err, out)
		}
		if !strings.Contains(out, "fakecuda: building the stand-in libcuda.so.1") {
			t.Errorf("fakecuda env did not build the library:\n%s", out)
		}
		// -v shows the tests ran, none skipped: the stand-in-only test
		// would fail, not skip, if fakecuda env had not set things up.
		out, err = sh(t, documentedSteps+" -v -run 'TestScaleOnDevice|TestDriverHoldsNothingAfter'")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{"--- PASS: TestScaleOnDevice", "--- PASS: TestDriverHoldsNothingAfter"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in:\n%s", want, out)
			}
		}
		if strings.Contains(out, "fakecuda: building") {
			t.Errorf("a second fakecuda env rebuilt the library:\n%s", out)
		}
	})
	t.Run("planted leak", func(t *testing.T) {
		copyDir(t, "testdata/planted", mod)
		defer os.Remove(filepath.Join(mod, "planted_cuda_test.go"))
		out, err := sh(t, documentedSteps)
		if err == nil {
			t.Fatalf("the documented steps passed with a planted device leak:\n%s", out)
		}
		for _, want := range []string{
			"--- FAIL: TestPlantedDeviceLeak",
			"membridge: LEAK of 1048576 bytes in 1 allocation",
			`tag "usermod/planted", kind device`,
			"planted_cuda_test.go:17",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in:\n%s", want, out)
			}
		}
		if strings.Contains(out, "--- FAIL: TestScaleOnDevice") {
			t.Errorf("the leak was blamed on another test:\n%s", out)
		}
	})
}

// copyDir copies the files of src (one level) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dst, e.Name()), string(b))
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
