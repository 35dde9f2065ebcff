// Command service is membridge's main job made real: an HTTP service that
// takes batches of numeric records (JSON or binary), filters them with a C
// extension, calibrates and sums the kept values with a CUDA kernel
// pipeline, and returns the result. Every byte of native and device memory
// it uses is owned through membridge: one arena per request, device buffers
// from a stream-ordered pool, pinned staging buffers, a bounded cache of
// recent results, and a memory budget that answers 503 with Retry-After
// instead of running out of memory.
//
//	go run ./examples/service -addr 127.0.0.1:8080     # serve
//	go run ./examples/service -demo                     # serve, load, report, stop (make demo)
//
// It serves POST /v1/batch, GET /metrics (Prometheus, the ledger included)
// and /debug/membridge/ (report, profile, trace, timeline). Without the
// cuda build tag the kernels run on the CPU backend with the same results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/tracker"
)

func main() {
	cfg := defaultConfig()
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (loopback by default)")
	demo := flag.Bool("demo", false, "serve on a loopback port, send load, report, shut down and check the ledger")
	duration := flag.Duration("duration", 20*time.Second, "how long the demo's load runs")
	clients := flag.Int("clients", 2*runtime.GOMAXPROCS(0), "concurrent clients in the demo")
	verbose := flag.Bool("v", false, "log every request")
	flag.Int64Var(&cfg.Budget, "budget", cfg.Budget, "bytes of native memory requests may hold at once")
	flag.Int64Var(&cfg.DeviceBudget, "device-budget", cfg.DeviceBudget, "bytes of device memory requests may hold at once")
	flag.BoolVar(&cfg.Leaky, "leaky", false, "the deliberately leaky variant (drops each request's arena)")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var err error
	if *demo {
		err = runDemo(cfg, log, *duration, *clients)
	} else {
		err = serve(cfg, log, *addr)
	}
	if err != nil {
		log.Error("service", "err", err)
		os.Exit(1)
	}
}

// serve runs until SIGINT or SIGTERM, then shuts down and checks the ledger.
func serve(cfg config, log *slog.Logger, addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s, srv, err := start(cfg, log, ln)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return shutdown(s, srv, log)
}

// start builds the service and serves it on ln.
func start(cfg config, log *slog.Logger, ln net.Listener) (*service, *http.Server, error) {
	s, err := newService(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: s.routes(newRegistry()), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Info("serving", "addr", ln.Addr().String(), "backend", cuda.Backend, "budget", cfg.Budget, "device_budget", cfg.DeviceBudget)
	return s, srv, nil
}

// shutdown stops taking requests, waits for those in flight, frees what the
// service holds and checks that the ledger is empty.
func shutdown(s *service, srv *http.Server, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := []error{srv.Shutdown(ctx), s.close()}
	if err := tracker.Find(tracker.MaxWait(5 * time.Second)); err != nil {
		errs = append(errs, fmt.Errorf("memory left after shutdown:\n%w", err))
	} else {
		log.Info("shut down; the ledger is empty")
	}
	return errors.Join(errs...)
}
