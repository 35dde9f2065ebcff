package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
	Streams      int           // streams (and pinned staging buffers) shared by requests
	StagingBytes int           // size of each pinned staging buffer
	CacheBytes   int64         // bounded cache of recent results
	CacheTTL     time.Duration
	Leaky        bool // the deliberately leaky variant: drops each request's arena
}

func defaultConfig() config {
	return config{
		MaxBody:      8 << 20,
		Budget:       256 << 20,
		DeviceBudget: 256 << 20,
		QueueWait:    200 * time.Millisecond,
		Streams:      4,
		StagingBytes: 1 << 20,
		CacheBytes:   16 << 20,
		CacheTTL:     30 * time.Second,
	}
}

// A service owns everything requests share: the device context, a set of
// streams each paired with a pinned staging buffer, and the result cache.
type service struct {
	cfg     config
	log     *slog.Logger
	dev     *cuda.Context
	lanes   chan lane
	results *cache.Cache[[sha256.Size]byte]
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
	s := &service{cfg: cfg, log: log, dev: dev, lanes: make(chan lane, cfg.Streams)}
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
	s.results, err = cache.New[[sha256.Size]byte](cache.Options{Name: "service.results", MaxBytes: cfg.CacheBytes, TTL: cfg.CacheTTL})
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

// cached returns a copy of the cached response for key, if any.
func (s *service) cached(key [sha256.Size]byte) ([]byte, bool) {
	b, ok := s.results.Get(key)
	if !ok {
		return nil, false
	}
	defer b.Release()
	out := make([]byte, b.Len())
	if _, err := b.ReadAt(out, 0); err != nil {
		return nil, false
	}
	return out, true
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

// run is the pipeline: filter in C, calibrate and reduce on the device.
func (s *service) run(ctx context.Context, j *job) (*summary, error) {
	out := &summary{Received: len(j.Records), Backend: cuda.Backend}
	kept, err := batch.Filter(j.Records, j.Lo, j.Hi)
	if err != nil {
		return nil, fmt.Errorf("service: filter %d records: %w", len(j.Records), err)
	}
	defer kept.Free()
	out.Kept = kept.Len()
	if out.Kept == 0 {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var l lane
	select {
	case l = <-s.lanes:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { s.lanes <- l }()

	if err := s.calibrate(ctx, l, j, kept.Records(), out); err != nil {
		return nil, err
	}
	out.Mean = out.Sum / float32(out.Kept)
	return out, nil
}

// calibrate moves the kept values to the device through the lane's pinned
// buffer, in chunks of its size, applies the affine-clamp kernel and sums.
func (s *service) calibrate(ctx context.Context, l lane, j *job, recs []batch.Record, out *summary) error {
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
	if j.Values {
		out.Values = make([]float32, 0, len(recs))
	}
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
		if j.Values {
			if err := cuda.CopyDtoHOn(l.stream, stage[:n], yv); err != nil {
				return fmt.Errorf("service: copy %d values back: %w", n, err)
			}
			if err := l.stream.Synchronize(); err != nil {
				return err
			}
			out.Values = append(out.Values, stage[:n]...)
		}
	}
	return nil
}
