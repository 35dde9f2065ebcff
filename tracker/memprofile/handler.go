package memprofile

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/pprof/profile"

	"github.com/membridge/membridge/tracker"
)

// Handler serves the profile over HTTP, like the profiles of net/http/pprof,
// so that `go tool pprof http://host/debug/pprof/membridge` works when it is
// mounted there:
//
//	http.Handle("/debug/pprof/membridge", memprofile.Handler())
//
// With ?gc=1 it runs a garbage collection first, so the safety net has found
// the handles dropped since the last one.
//
// With ?seconds=N it serves a delta profile, as net/http/pprof's heap profile
// does: it takes a profile, waits N seconds, takes another and serves the
// second less the first. alloc_space and alloc_objects are then what was
// allocated during those seconds, inuse_space and inuse_objects how live
// memory changed (negative where it shrank); `go tool pprof -seconds N URL`
// asks for it. N must be a whole number of seconds > 0 and, when the server
// has a WriteTimeout, shorter than it; a client that goes away ends the wait.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var seconds int
		if s := r.FormValue("seconds"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				http.Error(w, fmt.Sprintf("memprofile: seconds=%q: want a whole number of seconds > 0", s), http.StatusBadRequest)
				return
			}
			if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.WriteTimeout > 0 &&
				time.Duration(n)*time.Second >= srv.WriteTimeout {
				http.Error(w, fmt.Sprintf("memprofile: seconds=%d is not shorter than the server's WriteTimeout %s", n, srv.WriteTimeout), http.StatusBadRequest)
				return
			}
			seconds = n
		}
		if r.FormValue("gc") == "1" {
			tracker.GC()
		}
		var (
			p   *profile.Profile
			err error
		)
		if seconds > 0 {
			p, err = delta(r.Context(), time.Duration(seconds)*time.Second)
		} else {
			p, err = Build()
		}
		var buf bytes.Buffer
		if err == nil {
			err = p.Write(&buf)
		}
		if err != nil {
			if r.Context().Err() != nil {
				return // the client went away
			}
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		name := "membridge.pb.gz"
		if seconds > 0 {
			name = "membridge-delta.pb.gz"
		}
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(buf.Bytes())
	})
}

// afterBase runs once delta has taken its first profile; tests set it to
// allocate inside the window without guessing at timing.
var afterBase = func() {}

// delta returns the profile after d less the profile now.
func delta(ctx context.Context, d time.Duration) (*profile.Profile, error) {
	base, err := Build()
	if err != nil {
		return nil, err
	}
	afterBase()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("memprofile: delta of %s: %w", d, ctx.Err())
	case <-timer.C:
	}
	later, err := Build()
	if err != nil {
		return nil, err
	}
	base.Scale(-1)
	p, err := profile.Merge([]*profile.Profile{base, later})
	if err != nil {
		return nil, fmt.Errorf("memprofile: delta of %s: %w", d, err)
	}
	p.TimeNanos = later.TimeNanos
	p.DurationNanos = later.TimeNanos - base.TimeNanos
	p.Comments = append(later.Comments, fmt.Sprintf("delta over %s", d))
	return p, nil
}
