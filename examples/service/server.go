package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/debughttp"
	"github.com/membridge/membridge/tracker/promcollector"
)

// routes mounts the public endpoints: the batch API and a health check.
func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/batch", s.handleBatch)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

// debugRoutes mounts what only operators see, on the debug listener:
// Prometheus metrics (the ledger's included) and the membridge debug
// endpoint, where a forced collection (?gc=1) takes a POST and is
// rate-limited, since each one stops the service's work for a moment.
func (s *service) debugRoutes(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/debug/membridge/", http.StripPrefix("/debug/membridge", s.limitGC(debughttp.Handler())))
	return mux
}

// limitGC lets a request ask for a collection (gc=1, in the query or a
// form body) only by POST and at most once per GCInterval.
func (s *service) limitGC(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "debug: the form is malformed or larger than 4 KiB", http.StatusBadRequest)
			return
		}
		if r.Form.Get("gc") == "" {
			h.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "debug: gc=1 takes a POST", http.StatusMethodNotAllowed)
			return
		}
		now, last := time.Now().UnixNano(), s.lastGC.Load()
		if wait := last + int64(s.cfg.GCInterval) - now; wait > 0 || !s.lastGC.CompareAndSwap(last, now) {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int((time.Duration(wait)+time.Second-1)/time.Second))))
			http.Error(w, fmt.Sprintf("debug: one gc=1 per %s", s.cfg.GCInterval), http.StatusTooManyRequests)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(promcollector.New(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// handleBatch reads a batch (JSON or binary), answers from the cache when
// it can, and otherwise runs the pipeline. Everything the request holds is
// native memory under the request budget: the body as it arrives, the
// records in the request's arena, a hold for the filter's output, the
// calibrated values and the buffer the answer is written through.
func (s *service) handleBatch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	select {
	case s.inFlight <- struct{}{}:
		defer func() { <-s.inFlight }()
	default:
		s.fail(w, r, http.StatusServiceUnavailable, errTooMany)
		return
	}
	ctx := r.Context()
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	decode := decoders[ct]
	if decode == nil {
		s.fail(w, r, http.StatusUnsupportedMediaType, badRequest("want Content-Type application/json or %s", binaryType))
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	defer body.free() // at the latest; freed as soon as the records are decoded
	raw := body.bytes()
	key := requestKey(ct, raw)
	if b, ok := s.cached(key); ok {
		body.free()
		s.replyCached(w, r, b, start)
		return
	}

	// One arena per request. Its chunks are small: what is larger than a
	// quarter of one (the records, the values, a long answer's buffer) takes
	// a chunk of its own, of its exact size, and a small request's
	// everything fits in the first.
	arena := native.NewArena(tagRequest, 4<<10)
	if s.cfg.Leaky {
		// The deliberately leaky variant forgets the arena: nothing frees its
		// chunks but the safety net, late, and the metrics show the climb.
		defer func() { _ = arena }()
	} else {
		defer arena.Free()
	}
	wait, cancel := s.waitBudget(ctx)
	arena.WaitFor(wait)
	j, err := decode(raw, arena)
	arena.WaitFor(nil) //lint:ignore SA1012 nil is how Arena.WaitFor stops waiting
	cancel()
	body.free() // the records are in the arena now
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	sum, vals, err := s.run(ctx, j, arena)
	if err == nil {
		err = sum.finite(vals)
	}
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	s.answer(w, r, key, sum, vals, arena, start)
}

// requestKey is the cache key of a request: the hash of its content type
// and body, taken without a copy of the body on Go's heap.
func requestKey(ct string, body []byte) (key [sha256.Size]byte) {
	h := sha256.New()
	io.WriteString(h, ct)
	h.Write(body)
	h.Sum(key[:0])
	return key
}

// answerChunk is the most of an answer held at once: a larger one (with
// many values) is written through it in pieces, and not cached.
const answerChunk = 64 << 10

// answer writes the summary through a buffer in the request's arena; an
// answer that fits in it is cached.
func (s *service) answer(w http.ResponseWriter, r *http.Request, key [sha256.Size]byte, sum *summary, vals []float32, a *native.Arena, start time.Time) {
	buf, err := native.MakeSliceIn[byte](a, min(answerChunk, 256+24*len(vals)))
	if err != nil {
		s.fail(w, r, statusOf(err), fmt.Errorf("service: answer buffer: %w", err))
		return
	}
	streamed := false
	flush := func(b []byte) error {
		if !streamed {
			s.startAnswer(w, "miss")
			streamed = true
		}
		_, err := w.Write(b)
		return err
	}
	rest, err := encodeSummary(sum, vals, buf, flush)
	if err == nil && streamed {
		_, err = w.Write(rest)
	}
	switch {
	case err != nil && streamed:
		// The client did not take the answer in time (or went away): the
		// write deadline abandons it and the connection is closed.
		s.log.Debug("batch answer abandoned", "err", err, "took", time.Since(start))
	case err != nil:
		s.fail(w, r, http.StatusInternalServerError, err)
	case streamed:
		s.log.Debug("batch", "status", 200, "bytes", r.ContentLength, "cache", "miss", "took", time.Since(start))
	default:
		s.remember(key, rest)
		s.reply(w, r, rest, start, "miss")
	}
}

const binaryType = "application/x-membridge-batch"

var decoders = map[string]func([]byte, *native.Arena) (*job, error){
	"application/json": decodeJSON,
	binaryType:         decodeBinary,
}

var (
	// errTooMany is the answer beyond MaxInFlight requests.
	errTooMany = errors.New("too many requests in flight")
	// errTooLarge marks a body over MaxBody (HTTP 413).
	errTooLarge = errors.New("body too large")
	// errTooSlow marks a body slower than MinBodyRate (HTTP 408).
	errTooSlow = errors.New("body too slow")
)

// statusOf maps an error to the HTTP status a client can act on: 4xx for
// what the client did, 5xx for what the service could not do.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errTooSlow):
		return http.StatusRequestTimeout
	case errors.Is(err, errNotFinite):
		return http.StatusUnprocessableEntity
	case errors.Is(err, tracker.ErrLimit), errors.Is(err, errTooMany):
		return http.StatusServiceUnavailable // over budget or busy: retry later
	case errors.Is(err, context.Canceled):
		return 499 // the client went away
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, tracker.ErrOutOfMemory):
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

// publicError is what a client is told for an error: for its own mistakes,
// what was wrong; for the service's, what it can do about it, and nothing
// of the service's internals (those go to the log).
func (s *service) publicError(status int, err error) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		if ce := (*clientError)(nil); errors.As(err, &ce) {
			return ce.msg
		}
	case http.StatusUnprocessableEntity:
		return err.Error()
	case http.StatusRequestEntityTooLarge:
		return fmt.Sprintf("the body is larger than the %d bytes the service accepts", s.cfg.MaxBody)
	case http.StatusRequestTimeout:
		return fmt.Sprintf("the body arrived slower than %d bytes/s (after %s) or took longer than %s", s.cfg.MinBodyRate, s.cfg.BodyGrace, s.cfg.BodyTimeout)
	case http.StatusServiceUnavailable:
		if errors.Is(err, errTooMany) {
			return fmt.Sprintf("the service is serving %d requests; retry later", s.cfg.MaxInFlight)
		}
		return "the request does not fit in the service's memory budget now; retry later"
	case http.StatusInsufficientStorage:
		return "the service ran out of memory for this request; retry later or send a smaller batch"
	case http.StatusGatewayTimeout:
		return "the service took too long"
	}
	return "internal error"
}

// startAnswer sets the headers of a 200 and the deadline for the client to
// take the answer: a client that does not read cannot hold the request's
// memory longer than WriteTimeout.
func (s *service) startAnswer(w http.ResponseWriter, cache string) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Cache", cache)
}

// replyCached answers from a cache entry (with the reference cached took),
// through a view, which keeps the entry's memory from being freed while
// the answer is written.
func (s *service) replyCached(w http.ResponseWriter, r *http.Request, b *native.Buffer, start time.Time) {
	defer b.Release()
	v, err := b.View(0, b.Len())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, fmt.Errorf("service: view of a cached answer: %w", err))
		return
	}
	defer v.Release()
	s.reply(w, r, v.Bytes(), start, "hit")
}

func (s *service) reply(w http.ResponseWriter, r *http.Request, resp []byte, start time.Time, cache string) {
	s.startAnswer(w, cache)
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	if _, err := w.Write(resp); err != nil {
		s.log.Debug("batch answer abandoned", "err", err)
		return
	}
	s.log.Debug("batch", "status", 200, "bytes", r.ContentLength, "cache", cache, "took", time.Since(start))
}

func (s *service) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	level := slog.LevelWarn
	switch {
	case status == 499 || status == http.StatusServiceUnavailable:
		level = slog.LevelDebug // expected under load; counted by the client
	case status < 500:
		level = slog.LevelInfo
	}
	s.log.Log(r.Context(), level, "batch failed", "status", status, "err", err)
	if status == 499 {
		return // nobody is listening
	}
	if status == http.StatusRequestTimeout || status == http.StatusRequestEntityTooLarge {
		// What is left of the body is not worth reading: close the connection.
		w.Header().Set("Connection", "close")
	}
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]string{"error": s.publicError(status, err)}); err != nil {
		s.log.Debug("error answer abandoned", "err", err)
	}
}
