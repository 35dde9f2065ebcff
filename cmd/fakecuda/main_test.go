package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"env", "extra"}, {"env", "-format", "json"}, {"build", "-format", "sh"}} {
		var out, errs bytes.Buffer
		if code := run(args, &out, &errs); code != 2 || out.Len() != 0 || errs.Len() == 0 {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 2, nothing, a message", args, code, out.String(), errs.String())
		}
	}
	var out bytes.Buffer
	if code := run([]string{"help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "fakecuda env") {
		t.Errorf("help: %d %q", code, out.String())
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "/a b": "'/a b'", "it's": `'it'\''s'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
		if out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(in)).Output(); err != nil || string(out) != in {
			t.Errorf("sh read back %q (%v), want %q", out, err, in)
		}
	}
}

// env builds the library (where cuda.h is installed) and prints what a
// shell evaluates; build prints only the directory.
func TestEnvAndBuild(t *testing.T) {
	probe := exec.Command("cc", "-E", "-x", "c", "-")
	probe.Stdin = strings.NewReader("#include <cuda.h>\n")
	if probe.Run() != nil {
		if os.Getenv("MEMBRIDGE_FAKECUDA") == "1" {
			t.Fatal("MEMBRIDGE_FAKECUDA=1 but no cuda.h")
		}
		t.Skip("no cuda.h (Debian: nvidia-cuda-dev)")
	}
	dir := filepath.Join(t.TempDir(), "it's here")
	t.Setenv("CGO_LDFLAGS", "-lm")
	t.Setenv("LD_LIBRARY_PATH", "")
	var out, errs bytes.Buffer
	if code := run([]string{"env", "-dir", dir}, &out, &errs); code != 0 {
		t.Fatalf("env: %d\n%s", code, errs.String())
	}
	script := out.String() + `printf '%s\n' "$CGO_LDFLAGS" "$LD_LIBRARY_PATH" "$MEMBRIDGE_FAKECUDA"`
	got, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
	if want := "-L" + dir + " -lm\n" + dir + "\n1\n"; string(got) != want {
		t.Errorf("the shell read\n%s\nwant\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "libcuda.so.1")); err != nil {
		t.Error(err)
	}
	out.Reset()
	if code := run([]string{"env", "-dir", dir, "-format", "lines"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "\nLD_LIBRARY_PATH="+dir+"\n") {
		t.Errorf("env -format lines: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"build", "-dir", dir}, &out, &errs); code != 0 || out.String() != dir+"\n" {
		t.Errorf("build: %d %q", code, out.String())
	}
}
