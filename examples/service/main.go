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
// It serves POST /v1/batch and GET /healthz; with -debug-addr, a second
// listener (loopback) serves GET /metrics (Prometheus, the ledger included)
// and /debug/membridge/ (report, profile, trace, timeline). Slow and idle
// clients are cut off by the timeouts below, so they cannot hold the
// budget. Without the cuda build tag the kernels run on the CPU backend
// with the same results.
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
	"github.com/membridge/membridge/tracker/history"
	"github.com/membridge/membridge/tracker/leaktest"
)

func main() {
	cfg := defaultConfig()
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (loopback by default)")
	demo := flag.Bool("demo", false, "serve on a loopback port, send load, report, shut down and check the ledger")
	duration := flag.Duration("duration", 20*time.Second, "how long the demo's load runs")
	clients := flag.Int("clients", 2*runtime.GOMAXPROCS(0), "concurrent clients in the demo")
	verbose := flag.Bool("v", false, "log every request")
	debugAddr := flag.String("debug-addr", "", "listen address of /metrics and /debug/membridge/ (off when empty; keep it on loopback)")
	flag.Int64Var(&cfg.MaxBody, "max-body", cfg.MaxBody, "largest request body in bytes (413 beyond)")
	flag.IntVar(&cfg.MaxInFlight, "max-in-flight", cfg.MaxInFlight, "requests served at once (503 with Retry-After beyond)")
	flag.DurationVar(&cfg.QueueWait, "queue-wait", cfg.QueueWait, "how long a request waits for budget before 503")
	flag.DurationVar(&cfg.HeaderTimeout, "header-timeout", cfg.HeaderTimeout, "time to send the request line and headers")
	flag.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", cfg.MaxHeaderBytes, "largest request line and headers (431 beyond)")
	flag.DurationVar(&cfg.BodyGrace, "body-grace", cfg.BodyGrace, "time before -min-body-rate applies")
	flag.Int64Var(&cfg.MinBodyRate, "min-body-rate", cfg.MinBodyRate, "bytes/s a body must keep up after the grace (408 otherwise; 0: no minimum)")
	flag.DurationVar(&cfg.BodyTimeout, "body-timeout", cfg.BodyTimeout, "time for a whole body, however fast (408 beyond)")
	flag.DurationVar(&cfg.WriteTimeout, "write-timeout", cfg.WriteTimeout, "time a client has to take its answer; then it is abandoned")
	flag.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "time a keep-alive connection may sit idle")
	flag.IntVar(&cfg.History, "history", cfg.History, "ledger events kept for the debug listener's timeline and trace (0: none; only with -debug-addr)")
	flag.DurationVar(&cfg.GCInterval, "gc-interval", cfg.GCInterval, "least time between collections forced by POST ?gc=1 on the debug listener")
	flag.Int64Var(&cfg.Budget, "budget", cfg.Budget, "bytes of native memory requests may hold at once")
	flag.Int64Var(&cfg.DeviceBudget, "device-budget", cfg.DeviceBudget, "bytes of device memory requests may hold at once")
	flag.BoolVar(&cfg.Leaky, "leaky", false, "the deliberately leaky variant (drops each request's arena)")
	flag.Parse()

	level := slog.LevelInfo
	switch {
	case *verbose:
		level = slog.LevelDebug
	case *demo:
		level = slog.LevelWarn // the demo's own report is the output
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var err error
	if *demo {
		err = runDemo(cfg, log, *duration, *clients)
	} else {
		err = serve(cfg, log, *addr, *debugAddr)
	}
	if err != nil {
		log.Error("service", "err", err)
		os.Exit(1)
	}
}

// serve runs until SIGINT or SIGTERM, then shuts down and checks the ledger.
func serve(cfg config, log *slog.Logger, addr, debugAddr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var debugLn net.Listener
	if debugAddr != "" {
		if debugLn, err = net.Listen("tcp", debugAddr); err != nil {
			ln.Close()
			return err
		}
	}
	srv, err := start(cfg, log, ln, debugLn)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return srv.shutdown(log)
}

// A server is the service and its listeners' HTTP servers.
type server struct {
	svc        *service
	api, debug *http.Server // debug is nil without a debug listener
	history    bool         // the ledger keeps events for the debug listener
}

// start builds the service and serves it on ln, and the debug endpoints on
// debugLn unless it is nil.
func start(cfg config, log *slog.Logger, ln, debugLn net.Listener) (*server, error) {
	s, err := newService(cfg, log)
	if err != nil {
		return nil, err
	}
	srv := &server{svc: s, api: &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: cfg.HeaderTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		// The handler moves the read deadline with the body (MinBodyRate) and
		// sets the write deadline before it answers; these bound the rest.
		ReadTimeout:  cfg.HeaderTimeout + cfg.BodyTimeout,
		WriteTimeout: cfg.HeaderTimeout + cfg.BodyTimeout + cfg.WriteTimeout,
		IdleTimeout:  cfg.IdleTimeout,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}
	go srv.api.Serve(ln)
	if debugLn != nil {
		if cfg.History > 0 {
			// A bounded ring of the ledger's last events, so that the
			// timeline and the trace show what happened: kept only when
			// someone can look (a few atomic operations per event).
			history.Enable(cfg.History)
			srv.history = true
		}
		srv.debug = &http.Server{Handler: s.debugRoutes(newRegistry()), ReadHeaderTimeout: cfg.HeaderTimeout, IdleTimeout: cfg.IdleTimeout}
		go srv.debug.Serve(debugLn)
		log.Info("debug endpoints", "addr", debugLn.Addr().String())
	}
	log.Info("serving", "addr", ln.Addr().String(), "backend", cuda.Backend, "budget", cfg.Budget, "device_budget", cfg.DeviceBudget)
	return srv, nil
}

// shutdown stops taking requests, waits for those in flight, frees what the
// service holds and checks that the ledger is empty.
func (srv *server) shutdown(log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := []error{srv.api.Shutdown(ctx)}
	if srv.debug != nil {
		errs = append(errs, srv.debug.Shutdown(ctx))
	}
	errs = append(errs, srv.svc.close())
	if srv.history {
		history.Disable()
	}
	if err := leaktest.Find(leaktest.MaxWait(5 * time.Second)); err != nil {
		errs = append(errs, fmt.Errorf("memory left after shutdown:\n%w", err))
	} else {
		log.Info("shut down; the ledger is empty")
	}
	return errors.Join(errs...)
}
