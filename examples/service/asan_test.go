//go:build asan

package main

// Under -asan the service's RSS is not its own: the sanitizer's shadow
// memory and its quarantine of freed blocks add hundreds of MiB, so the
// memory bound (TestMemoryBoundedByBudget) is measured by the plain and
// -race runs only.
func init() { underASan = true }
