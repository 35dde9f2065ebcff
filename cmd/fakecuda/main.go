// Command fakecuda builds the stand-in CUDA driver (a test-only
// libcuda.so.1 that runs the driver API on host memory, see
// docs/cuda-without-gpu.md) for a module that uses membridge, and prints
// the environment go test needs to run that module's cuda-tagged tests
// with no GPU:
//
//	eval "$(go run github.com/membridge/membridge/cmd/fakecuda env)"
//	go test -tags cuda -count=1 ./...
//
// Run inside a module that requires membridge, go run builds the command at
// the version go.mod names, so the library matches the membridge the tests
// link. The library goes to a cache directory named after its sources
// (reused while they do not change) or to the directory -dir names.
//
// Subcommands:
//
//	env [-dir DIR] [-format sh|lines]
//	    build the library unless DIR already holds this version's, then
//	    print CGO_LDFLAGS, LD_LIBRARY_PATH and MEMBRIDGE_FAKECUDA=1: as
//	    export commands for a POSIX shell (sh, the default), or as NAME=value
//	    lines (lines, for $GITHUB_ENV and the like)
//	build [-dir DIR]
//	    build the library and print its directory
//
// Building needs bash, a C compiler (cc, or $CC), nm and NVIDIA's cuda.h
// (Debian: nvidia-cuda-dev); messages go to stderr, only the result to
// stdout. Cuda-tagged tests must also import package
// github.com/membridge/membridge/cuda/fakecuda, which registers the C
// reference kernels the stand-in runs for membridge's built-in kernels.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/membridge/membridge/cuda/fakecuda/driver"
)

const usage = `usage:
  fakecuda env [-dir DIR] [-format sh|lines]   build the stand-in libcuda.so.1 and print the environment go test needs
  fakecuda build [-dir DIR]                    build it and print its directory
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command with its arguments and streams; it returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	sub := args[0]
	fl := flag.NewFlagSet("fakecuda "+sub, flag.ContinueOnError)
	fl.SetOutput(stderr)
	dir := fl.String("dir", "", "directory for the library (default: a cache directory named after its sources)")
	format := "sh"
	if sub == "env" {
		fl.StringVar(&format, "format", "sh", "sh (export commands) or lines (NAME=value)")
	}
	switch sub {
	case "env", "build":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "fakecuda: unknown subcommand %q\n%s", sub, usage)
		return 2
	}
	if err := fl.Parse(args[1:]); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "fakecuda %s: unexpected arguments %q\n", sub, fl.Args())
		return 2
	}
	if format != "sh" && format != "lines" {
		fmt.Fprintf(stderr, "fakecuda env: -format is sh or lines, not %q\n", format)
		return 2
	}
	if *dir == "" {
		d, err := driver.DefaultDir()
		if err != nil {
			fmt.Fprintln(stderr, "fakecuda:", err)
			return 1
		}
		*dir = d
	}
	if !driver.Built(*dir) {
		fmt.Fprintf(stderr, "fakecuda: building the stand-in %s in %s\n", driver.Library, *dir)
	}
	if err := driver.Build(*dir); err != nil {
		fmt.Fprintln(stderr, "fakecuda:", err)
		return 1
	}
	if sub == "build" {
		fmt.Fprintln(stdout, *dir)
		return 0
	}
	for _, kv := range driver.Env(*dir, os.Getenv) {
		if format == "lines" {
			fmt.Fprintln(stdout, kv)
			continue
		}
		name, value, _ := strings.Cut(kv, "=")
		fmt.Fprintf(stdout, "export %s=%s\n", name, shellQuote(value))
	}
	return 0
}

// shellQuote quotes s for a POSIX shell: in single quotes, each single
// quote ended, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
