package debughttp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/debughttp"
)

func TestMain(m *testing.M) { tracker.VerifyTestMain(m) }

func get(t *testing.T, url string) (string, string, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body), resp.Header.Get("Content-Type"), resp.StatusCode
}

func TestEndpointServesEveryView(t *testing.T) {
	defer tracker.VerifyNone(t)
	tracker.EnableHistory(256)
	defer tracker.DisableHistory()
	r, err := tracker.Reserve(tracker.KindCHeap, -1, "debug-frames", 12345, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.Commit(0x1000, nil)
	defer r.Release()

	mux := http.NewServeMux()
	mux.Handle("/debug/membridge/", debughttp.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + "/debug/membridge/"

	for _, c := range []struct {
		path, contentType, want string
	}{
		{"", "text/html", `href="timeline"`},
		{"report.txt", "text/plain", `12.1 KiB`},
		{"report.json?top=1", "application/json", `"tag": "debug-frames"`},
		{"profile?gc=1", "application/octet-stream", "\x1f\x8b"}, // gzip
		{"trace.json", "application/json", `"live bytes c-heap (host)"`},
		{"timeline", "text/html", `debug-frames`},
	} {
		body, ct, code := get(t, base+c.path)
		if code != 200 || !strings.HasPrefix(ct, c.contentType) || !strings.Contains(body, c.want) {
			t.Errorf("%s: status %d, content type %q; want %s containing %q; got %.300q", c.path, code, ct, c.contentType, c.want, body)
		}
		if strings.HasSuffix(c.contentType, "json") && !json.Valid([]byte(body)) {
			t.Errorf("%s is not valid JSON", c.path)
		}
	}
	if _, _, code := get(t, base+"nothing-here"); code != 404 {
		t.Errorf("unknown page: status %d, want 404", code)
	}
	if _, _, code := get(t, base+"report.txt?top=x"); code != 400 {
		t.Errorf("bad top: status %d, want 400", code)
	}
}

func ExampleHandler() {
	http.Handle("/debug/membridge/", debughttp.Handler())
	// go http.ListenAndServe("localhost:6060", nil); then open
	// http://localhost:6060/debug/membridge/ in a browser, or run
	//   go tool pprof http://localhost:6060/debug/membridge/profile
	// Output:
}
