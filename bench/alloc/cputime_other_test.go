//go:build !unix

package alloc

func processCPU() int64 { return -1 }
