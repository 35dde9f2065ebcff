//go:build cuda

package main

// Linking package fakecuda registers the C reference kernels with the
// stand-in CUDA driver, so the example's launches run under make cuda-test;
// on NVIDIA's driver it does nothing.
import _ "github.com/membridge/membridge/cuda/fakecuda"
