//go:build membridge_invariants

package tracker_test

const invariantsBuild = true
