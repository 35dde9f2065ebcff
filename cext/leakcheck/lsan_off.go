//go:build !asan

package leakcheck

// Enabled reports whether Check asks LeakSanitizer (go test -asan).
const Enabled = false

func sanitizerLeaks() int { return 0 }
