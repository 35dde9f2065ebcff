package memprofile

import (
	"bytes"
	"net/http"

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
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("gc") == "1" {
			tracker.GC()
		}
		var buf bytes.Buffer
		if err := Write(&buf); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="membridge.pb.gz"`)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(buf.Bytes())
	})
}
