// Command observe runs a small image service that allocates C heap and device
// memory through membridge the way such services do (decode buffers,
// scratch, a bounded frame cache, device activations, model weights, and a
// slow leak), then writes what membridge shows about it: a pprof profile, a
// Chrome trace, the timeline page and the text report. The screenshots in
// docs/observability.md come from it:
//
//	go run ./examples/observe -out bin/observe    # make observe-demo
//	go tool pprof -http=127.0.0.1:8089 -tagroot=kind bin/observe/profile.pb.gz
//
// With -serve it keeps serving the debug endpoint afterwards.
package main

import (
	"container/list"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/debughttp"
	"github.com/membridge/membridge/tracker/history"
	"github.com/membridge/membridge/tracker/memprofile"
	"github.com/membridge/membridge/tracker/sitereport"
	"github.com/membridge/membridge/tracker/timeline"
)

func main() {
	out := flag.String("out", "membridge-demo", "directory for profile.pb.gz, trace.json, timeline.html and report.txt")
	duration := flag.Duration("duration", 3*time.Second, "how long the service runs")
	rate := flag.Int64("stack-rate", 64<<10, "stack rate (tracker.SetStackRate): one stack per this many bytes")
	serve := flag.String("serve", "", "address to serve the debug endpoint on afterwards (e.g. 127.0.0.1:6060)")
	flag.Parse()
	if err := run(*out, *duration, *rate, *serve); err != nil {
		log.Fatal(err)
	}
}

// frameCache keeps the last decoded frames in C memory, evicting the oldest.
type frameCache struct {
	mu  sync.Mutex
	lru *list.List
	max int
}

func (c *frameCache) put(b *native.Buffer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.PushFront(b)
	for c.lru.Len() > c.max {
		c.lru.Remove(c.lru.Back()).(*native.Buffer).Free()
	}
}

func (c *frameCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Front(); e != nil; e = e.Next() {
		e.Value.(*native.Buffer).Free()
	}
	c.lru.Init()
}

type service struct {
	dev    *cuda.Context
	frames frameCache
	served sync.Mutex
	n      int
}

func run(out string, duration time.Duration, rate int64, serve string) error {
	tracker.SetStackRate(rate)
	tracker.SetLeakHandler(func(*tracker.Record) {}) // the demo leaks on purpose
	history.Enable(1 << 18)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	stop := timeline.DumpOnAllocFailure(out, 1)
	defer stop()

	dev, err := cuda.Open(0)
	if err != nil {
		return err
	}
	defer dev.Close()
	s := &service{dev: dev, frames: frameCache{lru: list.New(), max: 24}}
	weights, err := loadModel(dev)
	if err != nil {
		return err
	}
	defer weights.Free()
	tracker.SetTagLimit("decode", 40<<20)

	// Load rises, peaks, and falls: 1, 2, then 4 workers, then 1 again.
	deadline := time.Now().Add(duration)
	for _, phase := range []struct {
		workers int
		share   float64
	}{{1, 0.2}, {2, 0.2}, {4, 0.35}, {1, 0.25}} {
		end := time.Now().Add(time.Duration(float64(duration) * phase.share))
		if end.After(deadline) {
			end = deadline
		}
		var wg sync.WaitGroup
		for range phase.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) {
					if err := s.handle(); err != nil {
						log.Print(err)
					}
				}
			}()
		}
		wg.Wait()
	}
	tracker.GC() // let the safety net find the last dropped thumbnails
	time.Sleep(50 * time.Millisecond)

	if err := memprofile.WriteFile(filepath.Join(out, "profile.pb.gz")); err != nil {
		return err
	}
	if err := timeline.WriteTraceFile(filepath.Join(out, "trace.json")); err != nil {
		return err
	}
	page, err := os.Create(filepath.Join(out, "timeline.html"))
	if err != nil {
		return err
	}
	events, lost := history.Events()
	if err := timeline.WriteHTML(page, events, lost, sitereport.Take(15)); err != nil {
		return err
	}
	page.Close()
	report, err := os.Create(filepath.Join(out, "report.txt"))
	if err != nil {
		return err
	}
	sitereport.Take(10).WriteText(report)
	report.Close()
	fmt.Printf("%d requests; wrote profile.pb.gz, trace.json, timeline.html and report.txt to %s\n", s.n, out)

	if serve != "" {
		http.Handle("/debug/membridge/", debughttp.Handler())
		http.Handle("/debug/pprof/membridge", memprofile.Handler())
		fmt.Printf("serving http://%s/debug/membridge/\n", serve)
		return http.ListenAndServe(serve, nil)
	}
	s.frames.clear()
	return nil
}

//go:noinline
func loadModel(dev *cuda.Context) (*cuda.DeviceBuffer, error) {
	return deviceAlloc(dev, "model-weights", 48<<20)
}

// deviceAlloc allocates device memory. It is its own frame so that the
// callers above it show in stacks whatever frames package cuda skips.
//
//go:noinline
func deviceAlloc(dev *cuda.Context, tag string, n int) (*cuda.DeviceBuffer, error) {
	return dev.Alloc(tag, n)
}

// handle serves one request: decode, resize with scratch buffers, run the
// model on the device, keep the frame in the cache, and now and then make a
// thumbnail it forgets to free.
func (s *service) handle() error {
	img, err := decode(1<<20 + rand.IntN(5<<20))
	if err != nil {
		return err // over the decode limit under load: the request is shed
	}
	defer img.Free()
	if err := resize(img); err != nil {
		return err
	}
	if err := infer(s.dev, img.Len()); err != nil {
		return err
	}
	frame, err := native.Alloc("frame-cache", 512<<10)
	if err != nil {
		return err
	}
	s.frames.put(frame)
	s.served.Lock()
	s.n++
	n := s.n
	s.served.Unlock()
	if n%25 == 0 {
		thumbnail(img)
	}
	if n%100 == 0 {
		runtime.GC()
	}
	time.Sleep(time.Duration(1+rand.IntN(3)) * time.Millisecond)
	return nil
}

//go:noinline
func decode(n int) (*native.Buffer, error) {
	return native.Alloc("decode", n)
}

//go:noinline
func resize(img *native.Buffer) error {
	var scratch []*native.Buffer
	defer func() {
		for _, b := range scratch {
			b.Free()
		}
	}()
	for range 3 {
		b, err := native.Alloc("scratch", 64<<10+rand.IntN(192<<10))
		if err != nil {
			return err
		}
		scratch = append(scratch, b)
	}
	return nil
}

//go:noinline
func infer(dev *cuda.Context, inputBytes int) error {
	act, err := deviceAlloc(dev, "activations", 2*inputBytes)
	if err != nil {
		return err
	}
	time.Sleep(time.Millisecond)
	return act.Free()
}

// thumbnail leaks: the handle is dropped without Free, and membridge's
// safety net finds it, reclaims the memory and records the leak.
//
//go:noinline
func thumbnail(img *native.Buffer) {
	//membridge:ignore leak the demo's leak: the thumbnail buffer is dropped for the safety net and the debug pages to show
	b, err := native.Alloc("thumbnail", 256<<10)
	if err == nil {
		//membridge:ignore keptslice the demo's leak: the dropped thumbnail buffer's memory is written before the safety net can run
		copy(b.Bytes(), img.Bytes()[:256<<10])
	}
}
