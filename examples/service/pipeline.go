package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/membridge/membridge/batch"
	"github.com/membridge/membridge/cache"
	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
)

// Tags: what the service's native and device memory is for. The request
// budget is a limit on tagRequest, which the ingest buffer and the request
// arena share; the device budget is a limit on tagDevice.
const (
	tagRequest = "service.request"
	tagDevice  = "service.device"
	tagStaging = "service.staging"
	tagCache   = "service.cache"
)

type config struct {
	MaxBody      int64         // largest request body accepted
	Budget       int64         // bytes of native memory all requests may hold at once
	DeviceBudget int64         // bytes of device memory all requests may hold at once
	QueueWait    time.Duration // how long a request waits for budget before 503
	MaxInFlight  int           // requests served at once; beyond, 503 at once
	Streams      int           // streams (and pinned staging buffers) shared by requests
	StagingBytes int           // size of each pinned staging buffer
	CacheBytes   int64         // bounded cache of recent results
	CacheTTL     time.Duration
	Leaky        bool // the deliberately leaky variant: drops each request's arena

	// What a slow or idle client may hold. A client that breaks one of
	// these loses its connection, and what its request held goes back.
	HeaderTimeout  time.Duration // to send the request line and headers
	MaxHeaderBytes int           // of the request line and headers
	BodyGrace      time.Duration // before MinBodyRate applies to the body
	MinBodyRate    int64         // bytes a second the body must keep up, after the grace (408 otherwise)
	BodyTimeout    time.Duration // for the whole body, however fast
	WriteTimeout   time.Duration // to take the answer; then the server abandons it
	IdleTimeout    time.Duration // a keep-alive connection may sit idle
	GCInterval     time.Duration // between collections forced through the debug listener's ?gc=1
	History        int           // ledger events kept for the debug listener's timeline and trace (0: none)
}

func defaultConfig() config {
	return config{
		MaxBody:        8 << 20,
		Budget:         256 << 20,
		DeviceBudget:   256 << 20,
		QueueWait:      200 * time.Millisecond,
		MaxInFlight:    64,
		Streams:        4,
		StagingBytes:   1 << 20,
		CacheBytes:     16 << 20,
		CacheTTL:       30 * time.Second,
		HeaderTimeout:  5 * time.Second,
		MaxHeaderBytes: 16 << 10,
		BodyGrace:      2 * time.Second,
		MinBodyRate:    64 << 10,
		BodyTimeout:    60 * time.Second,
		WriteTimeout:   10 * time.Second,
		IdleTimeout:    30 * time.Second,
		GCInterval:     10 * time.Second,
		History:        1 << 16,
	}
}

// A service owns everything requests share: the device context, a set of
// streams each paired with a pinned staging buffer, the result cache, and
// the slots of the requests in flight.
type service struct {
	cfg      config
	log      *slog.Logger
	dev      *cuda.Context
	lanes    chan lane
	results  *cache.Cache[[sha256.Size]byte]
	inFlight chan struct{} // one token per request being served
	lastGC   atomic.Int64  // unix nanoseconds of the last ?gc=1 collection
}

// A lane is a stream and the pinned buffer that stages its copies.
type lane struct {
	stream  *cuda.Stream
	staging *cuda.PinnedBuffer
}

func newService(cfg config, log *slog.Logger) (*service, error) {
	dev, err := cuda.Open(0)
	if err != nil {
		return nil, fmt.Errorf("service: open device 0: %w", err)
	}
	s := &service{cfg: cfg, log: log, dev: dev, lanes: make(chan lane, cfg.Streams), inFlight: make(chan struct{}, max(1, cfg.MaxInFlight))}
	for range cfg.Streams {
		st, err := dev.NewStream()
		if err != nil {
			s.close()
			return nil, fmt.Errorf("service: stream: %w", err)
		}
		pb, err := dev.AllocPinned(tagStaging, cfg.StagingBytes)
		if err != nil {
			st.Close()
			s.close()
			return nil, fmt.Errorf("service: pinned staging: %w", err)
		}
		s.lanes <- lane{st, pb}
	}
	s.results, err = cache.New[[sha256.Size]byte]("service.results", cfg.CacheBytes, cache.TTL(cfg.CacheTTL))
	if err != nil {
		s.close()
		return nil, err
	}
	tracker.SetTagLimit(tagRequest, cfg.Budget)
	tracker.SetTagLimit(tagDevice, cfg.DeviceBudget)
	return s, nil
}

// close frees what the service holds. Requests must have finished.
func (s *service) close() error {
	var errs []error
	if s.results != nil {
		errs = append(errs, s.results.Close())
	}
	for len(s.lanes) > 0 {
		l := <-s.lanes
		errs = append(errs, l.staging.Free(), l.stream.Close())
	}
	errs = append(errs, s.dev.Close())
	tracker.SetTagLimit(tagRequest, 0)
	tracker.SetTagLimit(tagDevice, 0)
	return errors.Join(errs...)
}

// cached returns the cached response for key, if any, with a reference
// the caller releases.
func (s *service) cached(key [sha256.Size]byte) (*native.Buffer, bool) {
	return s.results.Get(key)
}

// remember puts a response in the cache, in native memory the cache owns.
func (s *service) remember(key [sha256.Size]byte, resp []byte) {
	b, err := native.Alloc(tagCache, len(resp))
	if err != nil {
		return // a full budget is no reason to fail the request
	}
	copy(b.Bytes(), resp)
	if err := s.results.Put(key, b); err != nil {
		b.Free()
	}
}

// kindHold is the ledger's kind for bytes of the request budget set aside
// for memory that is charged to another tag: the C filter's output, which
// the C extension allocates under its own tag. The hold is released when
// that memory is freed, so the budget bounds everything a request holds.
var kindHold = func() tracker.Kind {
	k, err := tracker.RegisterKind("budget-hold")
	if err != nil {
		panic(err)
	}
	return k
}()

// hold sets n bytes of the request budget aside, waiting for them as an
// allocation does (back-pressure); release gives them back.
func hold(ctx context.Context, n int64) (release func(), err error) {
	// Nothing is allocated: the alloc function only has to succeed.
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindHold, Device: -1, Tag: tagRequest, Bytes: n, Context: ctx},
		func() (uintptr, error) { return 0, nil }, nil)
	if err != nil {
		return nil, err
	}
	return func() { r.Release() }, nil
}

// waitBudget is the context an allocation under the request budget waits
// with: the request's, for at most QueueWait.
func (s *service) waitBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.QueueWait)
}

// run is the pipeline: filter in C, calibrate and reduce on the device. The
// calibrated values, when asked for, go into the request's arena.
func (s *service) run(ctx context.Context, j *job, a *native.Arena) (*summary, []float32, error) {
	out := &summary{Received: len(j.Records), Backend: cuda.Backend}
	if len(j.Records) == 0 {
		return out, nil, nil
	}
	// The filter's output is at most the input; hold that much of the
	// budget until the output is freed.
	wait, cancel := s.waitBudget(ctx)
	release, err := hold(wait, int64(len(j.Records))*int64(unsafe.Sizeof(batch.Record{})))
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("service: hold the filter's output for %d records: %w", len(j.Records), err)
	}
	defer release()
	kept, err := batch.Filter(j.Records, j.Lo, j.Hi)
	if err != nil {
		return nil, nil, fmt.Errorf("service: filter %d records: %w", len(j.Records), err)
	}
	defer kept.Free()
	out.Kept = kept.Len()
	if out.Kept == 0 {
		return out, nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var vals []float32
	if j.Values {
		wait, cancel := s.waitBudget(ctx)
		a.WaitFor(wait)
		vals, err = native.MakeSliceIn[float32](a, out.Kept)
		a.WaitFor(nil) //lint:ignore SA1012 nil is how Arena.WaitFor stops waiting
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("service: %d values into the request arena: %w", out.Kept, err)
		}
	}

	var l lane
	select {
	case l = <-s.lanes:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { s.lanes <- l }()

	if err := s.calibrate(ctx, l, j, kept.Records(), out, vals); err != nil {
		return nil, nil, err
	}
	out.Mean = out.Sum / float32(out.Kept)
	return out, vals, nil
}

// calibrate moves the kept values to the device through the lane's pinned
// buffer, in chunks of its size, applies the affine-clamp kernel and sums;
// with vals (len(recs) long) it copies the calibrated values back into it.
func (s *service) calibrate(ctx context.Context, l lane, j *job, recs []batch.Record, out *summary, vals []float32) error {
	chunk := l.staging.Len() / 4
	stage := cuda.PinnedValues[float32](l.staging)
	x, err := cuda.AllocSliceOn[float32](l.stream, tagDevice, min(chunk, len(recs)))
	if err != nil {
		return fmt.Errorf("service: device input of %d values: %w", min(chunk, len(recs)), err)
	}
	defer x.Free()
	y, err := cuda.AllocSliceOn[float32](l.stream, tagDevice, x.Len())
	if err != nil {
		return fmt.Errorf("service: device output of %d values: %w", x.Len(), err)
	}
	defer y.Free()
	t := cuda.AffineClamp{A: j.Gain, B: j.Bias, Lo: j.Min, Hi: j.Max}
	for at := 0; at < len(recs); at += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(chunk, len(recs)-at)
		for i := range n {
			stage[i] = recs[at+i].Value
		}
		xv, _ := x.View(0, n)
		yv, _ := y.View(0, n)
		if err := cuda.CopyHtoDOn(l.stream, xv, stage[:n]); err != nil {
			return fmt.Errorf("service: copy %d values to the device: %w", n, err)
		}
		if err := t.Apply(l.stream, yv, xv); err != nil {
			return fmt.Errorf("service: calibrate %d values: %w", n, err)
		}
		sum, err := cuda.Sum(l.stream, yv)
		if err != nil {
			return fmt.Errorf("service: sum %d values: %w", n, err)
		}
		out.Sum += sum
		if vals != nil {
			if err := cuda.CopyDtoHOn(l.stream, stage[:n], yv); err != nil {
				return fmt.Errorf("service: copy %d values back: %w", n, err)
			}
			if err := l.stream.Synchronize(); err != nil {
				return fmt.Errorf("service: copy %d values back: %w", n, err)
			}
			copy(vals[at:at+n], stage[:n])
		}
	}
	return nil
}
