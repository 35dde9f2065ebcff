// Package driver builds the stand-in CUDA driver, a test-only libcuda.so.1
// that runs the driver API on host memory (docs/cuda-without-gpu.md), from
// the C sources embedded in it, and says what environment go test needs to
// link and load it.
//
// It is what command fakecuda (cmd/fakecuda) runs for a user's module: the
// sources come with the membridge version the command was built from, read
// from the binary rather than from the module cache (which is read-only),
// and the library goes to a directory the caller chooses or to a cache
// directory named after the sources. Building needs bash, a C compiler
// (cc, or $CC), nm and NVIDIA's cuda.h (Debian: nvidia-cuda-dev), no GPU.
//
// The package has no cgo and no build tag: it compiles the library by
// running the compiler, it does not link it. Package
// [github.com/membridge/membridge/cuda/fakecuda], imported by cuda-tagged
// tests, is the Go side of the library once it runs.
package driver

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// sources are the stand-in's C, its list of implemented calls and the
// scripts make cuda-standin runs; Build runs the same scripts.
//
//go:embed driver.c standin.h CALLS.txt build.sh gen-stubs.sh
var sources embed.FS

// Library is the file name a program linked with -lcuda loads.
const Library = "libcuda.so.1"

// stampFile records, in a built directory, the hash of the sources its
// library was built from, so Build can tell a current build from a stale one.
const stampFile = ".membridge-fakecuda-sources"

// sourceHash is the hex SHA-256 of the embedded files, names included.
func sourceHash() string {
	h := sha256.New()
	err := fs.WalkDir(sources, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := sources.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		panic("fakecuda/driver: reading embedded sources: " + err.Error())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DefaultDir is where Build puts the library when the caller names no
// directory: membridge-fakecuda/<hash of the sources> under the user's cache
// directory (os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache on Linux), so
// builds of different membridge versions never share a library and a
// second Build of the same sources finds the first one's.
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("fakecuda/driver: no cache directory (name one instead): %w", err)
	}
	return filepath.Join(base, "membridge-fakecuda", sourceHash()[:16]), nil
}

// Built reports whether dir holds a library built from these sources.
func Built(dir string) bool {
	stamp, err := os.ReadFile(filepath.Join(dir, stampFile))
	if err != nil || strings.TrimSpace(string(stamp)) != sourceHash() {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, Library))
	return err == nil
}

// Build makes dir/libcuda.so.1, and the libcuda.so link that -lcuda looks
// for, from the embedded sources, creating dir if needed. It does nothing
// when dir already holds a build of the same sources (Built). The library
// has stubs answering CUDA_ERROR_NOT_SUPPORTED for every function cuda.h
// declares and does not model, so any program linked against the driver
// API links against it.
//
// The build runs in a temporary directory inside dir and the files are
// renamed into place, so a test process that loads dir's library while
// another Build runs sees the old file or the new one, never half of one.
// A failed build returns an error carrying the compiler's output; the
// usual cause is a missing cuda.h.
func Build(dir string) error {
	if dir == "" {
		return errors.New("fakecuda/driver: Build needs a directory")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("fakecuda/driver: %w", err)
	}
	if Built(dir) {
		return nil
	}
	for _, tool := range []string{"bash", "nm", compiler()} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("fakecuda/driver: building the stand-in needs %s: %w", tool, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fakecuda/driver: %w", err)
	}
	work, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return fmt.Errorf("fakecuda/driver: %w", err)
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "src")
	if err := os.CopyFS(src, sources); err != nil {
		return fmt.Errorf("fakecuda/driver: writing the sources: %w", err)
	}
	out := filepath.Join(work, "out")
	cmd := exec.Command("bash", filepath.Join(src, "build.sh"), out)
	if text, err := cmd.CombinedOutput(); err != nil {
		hint := ""
		if strings.Contains(string(text), "cuda.h") {
			hint = " (install NVIDIA's cuda.h: Debian's nvidia-cuda-dev, or the CUDA toolkit with its include directory in CPATH)"
		}
		return fmt.Errorf("fakecuda/driver: building %s in %s failed%s: %w\n%s", Library, dir, hint, err, text)
	}
	// The library first, then the link to it, then the stamp: a directory
	// with a stamp has both.
	if err := os.Rename(filepath.Join(out, Library), filepath.Join(dir, Library)); err != nil {
		return fmt.Errorf("fakecuda/driver: %w", err)
	}
	link := filepath.Join(work, "libcuda.so")
	if err := os.Symlink(Library, link); err != nil {
		return fmt.Errorf("fakecuda/driver: %w", err)
	}
	if err := os.Rename(link, filepath.Join(dir, "libcuda.so")); err != nil {
		return fmt.Errorf("fakecuda/driver: %w", err)
	}
	stamp := filepath.Join(work, stampFile)
	if err := os.WriteFile(stamp, []byte(sourceHash()+"\n"), 0o644); err != nil {
		return fmt.Errorf("fakecuda/driver: %w", err)
	}
	if err := os.Rename(stamp, filepath.Join(dir, stampFile)); err != nil {
		return fmt.Errorf("fakecuda/driver: %w", err)
	}
	return nil
}

// compiler is the C compiler build.sh runs: $CC's first word, or cc.
func compiler() string {
	if f := strings.Fields(os.Getenv("CC")); len(f) > 0 {
		return f[0]
	}
	return "cc"
}

// Required is the variable that makes cuda-tagged tests fail, rather than
// skip their stand-in checks, when the driver loaded is not the stand-in
// (fakecuda.Require): Env sets it to 1.
const Required = "MEMBRIDGE_FAKECUDA"

// Env returns, as NAME=value strings, the variables go test needs to link
// cuda-tagged tests against the library in dir and to load it: CGO_LDFLAGS
// with -L dir before what getenv returns for it, LD_LIBRARY_PATH with dir
// first, and MEMBRIDGE_FAKECUDA=1. getenv is usually os.Getenv.
//
// The test cache ignores LD_LIBRARY_PATH and the library's contents: run
// go test with -count=1, or a cached result may come from another driver.
func Env(dir string, getenv func(string) string) []string {
	join := func(first, rest, sep string) string {
		if rest == "" {
			return first
		}
		return first + sep + rest
	}
	return []string{
		"CGO_LDFLAGS=" + join("-L"+dir, getenv("CGO_LDFLAGS"), " "),
		"LD_LIBRARY_PATH=" + join(dir, getenv("LD_LIBRARY_PATH"), ":"),
		Required + "=1",
	}
}
