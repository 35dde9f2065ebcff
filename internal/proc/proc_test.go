package proc

import (
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every goroutine is told a P within GOMAXPROCS, however many run at once.
func TestCurrentIsAP(t *testing.T) {
	n := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for range 4 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				p := Current()
				assert.GreaterOrEqual(t, p, 0)
				assert.Less(t, p, n)
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
}
