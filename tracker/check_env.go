package tracker

import "fmt"

// parseCheck reads MEMBRIDGE_CHECK: "1" or "on" checks, "0", "off" or the
// empty string does not. It returns false with an error for anything else.
func parseCheck(s string) (bool, error) {
	switch s {
	case "1", "on", "true":
		return true, nil
	case "", "0", "off", "false":
		return false, nil
	}
	return false, fmt.Errorf("MEMBRIDGE_CHECK=%q: want 1 or 0", s)
}
