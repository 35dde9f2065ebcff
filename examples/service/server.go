package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/debughttp"
	"github.com/membridge/membridge/tracker/promcollector"
)

// routes mounts the service's endpoints: the batch API, Prometheus metrics
// (the ledger's included) and the membridge debug endpoint.
func (s *service) routes(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/batch", s.handleBatch)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/debug/membridge/", http.StripPrefix("/debug/membridge", debughttp.Handler()))
	return mux
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(promcollector.New(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// handleBatch reads a batch (JSON or binary), answers from the cache when
// it can, and otherwise runs the pipeline with the request's native memory
// under the request budget.
func (s *service) handleBatch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := r.Context()
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	decode := decoders[ct]
	if decode == nil {
		s.fail(w, r, http.StatusUnsupportedMediaType, errors.New("want application/json or "+binaryType))
		return
	}
	if r.ContentLength > s.cfg.MaxBody {
		s.fail(w, r, http.StatusRequestEntityTooLarge, errors.New("body larger than the service accepts"))
		return
	}

	// The body goes into native memory charged to the request budget; when
	// the budget is spent, wait a little for other requests to finish
	// (back-pressure), then give up with 503.
	n := s.cfg.MaxBody
	if r.ContentLength >= 0 {
		n = r.ContentLength
	}
	wait, cancel := context.WithTimeout(ctx, s.cfg.QueueWait)
	body, err := native.AllocContext(wait, tagRequest, int(n))
	cancel()
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	defer body.Free()
	in := http.MaxBytesReader(w, r.Body, n)
	got, err := io.ReadFull(in, body.Bytes())
	if err == nil && r.ContentLength < 0 {
		// The buffer is full: one more byte means the body is too large.
		_, err = in.Read(make([]byte, 1))
		if err == io.EOF {
			err = nil
		}
	}
	if err != nil && !(errors.Is(err, io.ErrUnexpectedEOF) && r.ContentLength < 0) {
		s.fail(w, r, statusOf(err), err)
		return
	}
	raw := body.Bytes()[:got]
	key := sha256.Sum256(append([]byte(ct), raw...))
	if resp, ok := s.cached(key); ok {
		s.reply(w, r, resp, start, "hit")
		return
	}

	// One arena per request, its chunk sized to the request: the decoded
	// records take no more bytes than their binary form.
	arena := native.NewArena(tagRequest, max(4<<10, got))
	if s.cfg.Leaky {
		// The deliberately leaky variant forgets the arena: nothing frees its
		// chunks but the safety net, late, and the metrics show the climb.
		defer func() { _ = arena }()
	} else {
		defer arena.Free()
	}
	j, err := decode(raw, arena)
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	sum, err := s.run(ctx, j)
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	resp, _ := json.Marshal(sum)
	resp = append(resp, '\n')
	s.remember(key, resp)
	s.reply(w, r, resp, start, "miss")
}

const binaryType = "application/x-membridge-batch"

var decoders = map[string]func([]byte, *native.Arena) (*job, error){
	"application/json": decodeJSON,
	binaryType:         decodeBinary,
}

// statusOf maps an error to the HTTP status a client can act on.
func statusOf(err error) int {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, errBadRequest), errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, tracker.ErrLimit):
		return http.StatusServiceUnavailable // over budget: retry later
	case errors.Is(err, context.Canceled):
		return 499 // the client went away
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, tracker.ErrOutOfMemory):
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

func (s *service) reply(w http.ResponseWriter, r *http.Request, resp []byte, start time.Time, cache string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Cache", cache)
	w.Write(resp)
	s.log.Debug("batch", "status", 200, "bytes", r.ContentLength, "cache", cache, "took", time.Since(start))
}

func (s *service) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	level := slog.LevelWarn
	if status == 499 || status == http.StatusServiceUnavailable {
		level = slog.LevelDebug // expected under load; counted by the client
	}
	s.log.Log(r.Context(), level, "batch failed", "status", status, "err", err)
	if status == 499 {
		return // nobody is listening
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]string{"error": err.Error()})
}
