package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, method, u, form string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(form))
	require.NoError(t, err)
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// The metrics and the debug endpoints are on the debug listener only.
func TestDebugEndpointsHaveTheirOwnListener(t *testing.T) {
	api, debug := startWithDebug(t, defaultConfig())
	for _, path := range []string{"/metrics", "/debug/membridge/", "/debug/membridge/report.txt"} {
		code, _, _ := get(t, "GET", api+path, "")
		assert.Equal(t, http.StatusNotFound, code, "public %s", path)
		code, _, _ = get(t, "GET", debug+path, "")
		assert.Equal(t, http.StatusOK, code, "debug %s", path)
	}
	_, metrics, _ := get(t, "GET", debug+"/metrics", "")
	assert.Contains(t, metrics, "membridge_live_bytes")
	code, _, _ := get(t, "POST", debug+"/v1/batch", "")
	assert.Equal(t, http.StatusNotFound, code, "the batch API on the debug listener")
}

// A forced collection takes a POST and happens at most once per
// GCInterval, however many clients ask.
func TestDebugGCIsPostOnlyAndRateLimited(t *testing.T) {
	cfg := defaultConfig()
	cfg.GCInterval = time.Hour
	_, debug := startWithDebug(t, cfg)
	report := debug + "/debug/membridge/report.txt"

	code, _, h := get(t, "GET", report+"?gc=1", "")
	assert.Equal(t, http.StatusMethodNotAllowed, code, "GET ?gc=1")
	assert.Equal(t, "POST", h.Get("Allow"))

	done := 0
	for i := range 20 {
		var code int
		var h http.Header
		if i%2 == 0 {
			code, _, h = get(t, "POST", report+"?gc=1", "")
		} else {
			code, _, h = get(t, "POST", report, url.Values{"gc": {"1"}}.Encode())
		}
		switch code {
		case http.StatusOK:
			done++
		case http.StatusTooManyRequests:
			assert.NotEmpty(t, h.Get("Retry-After"))
		default:
			t.Errorf("POST gc=1: %d", code)
		}
	}
	assert.Equal(t, 1, done, "collections forced in one interval")
	code, _, _ = get(t, "GET", report, "")
	assert.Equal(t, http.StatusOK, code, "the report without gc=1 is not limited")
}

// With a debug listener the service keeps a bounded history of the ledger's
// events, so the trace and the timeline show the requests it served.
func TestDebugTraceShowsRequests(t *testing.T) {
	cfg := defaultConfig()
	cfg.History = 1 << 10
	api, debug := startWithDebug(t, cfg)
	code, body, _ := post(t, api, "application/json", []byte(`{"lo":0,"hi":10,"gain":2,"records":[{"id":1,"value":1},{"id":2,"value":3}]}`))
	require.Equal(t, http.StatusOK, code, string(body))
	code, trace, _ := get(t, "GET", debug+"/debug/membridge/trace.json", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, trace, `"ph"`, "trace events")
	assert.Contains(t, trace, "arena-chunk", "the request's arena in the trace")
	code, page, _ := get(t, "GET", debug+"/debug/membridge/timeline", "")
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, page, "No history.", "the timeline page")
}
