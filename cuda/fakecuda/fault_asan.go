//go:build cuda && asan

package fakecuda

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"unsafe"
)

// loadEnv names the address a child process loads from (see init).
const loadEnv = "MEMBRIDGE_FAKECUDA_LOAD"

// HostLoadFaults reports whether loading one byte from addr on the host
// faults, as it must for every device pointer the stand-in hands out. Under
// AddressSanitizer an instrumented load of a wild address aborts the
// process, so the load runs in a child: this test binary, re-run with
// loadEnv set, which must die with a report. The address is non-canonical,
// so it faults in any process.
func HostLoadFaults(addr uintptr) bool {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), loadEnv+"="+strconv.FormatUint(uint64(addr), 10))
	out, err := cmd.CombinedOutput()
	text := string(out)
	died := strings.Contains(text, "AddressSanitizer") || strings.Contains(text, "SIGSEGV")
	return err != nil && died && !strings.Contains(text, "loaded a byte")
}

func init() {
	v := os.Getenv(loadEnv)
	if v == "" {
		return
	}
	addr, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		os.Exit(2)
	}
	p := *(**byte)(unsafe.Pointer(&addr))
	b := *p
	println("loaded a byte:", b)
	os.Exit(0)
}
