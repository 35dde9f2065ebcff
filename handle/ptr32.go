//go:build 386 || arm || mips || mipsle

package handle

// A handle's value packs a 31-bit slot index and a 32-bit generation into
// a pointer (table.go), which needs 64 bits. A 32-bit build stops on the
// name below, which says so, rather than on an overflowing constant.
var _ = membridge_handle_needs_a_64_bit_platform
