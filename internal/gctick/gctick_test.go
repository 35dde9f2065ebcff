package gctick

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryRunsAfterEachCollection(t *testing.T) {
	var n atomic.Int32
	Every(func() { n.Add(1) })
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("ran %d times in 5 s of collections", n.Load())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
