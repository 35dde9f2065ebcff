//go:build cuda && asan

package fakecuda

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"unsafe"
)

// hostLoadFaults reports whether loading a byte from addr faults. Under
// AddressSanitizer the instrumented load aborts the process, so the load
// runs in a child process (this test binary, see init) that must die.
func hostLoadFaults(addr uintptr) bool {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MEMBRIDGE_FAKECUDA_LOAD="+strconv.FormatUint(uint64(addr), 10))
	out, err := cmd.CombinedOutput()
	text := string(out)
	died := strings.Contains(text, "AddressSanitizer") || strings.Contains(text, "SIGSEGV")
	return err != nil && died && !strings.Contains(text, "loaded a byte")
}

func init() {
	v := os.Getenv("MEMBRIDGE_FAKECUDA_LOAD")
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
