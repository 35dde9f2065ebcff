package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/membridge/membridge/cext/cexttest"
	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every fault gets a clear HTTP error and leaves nothing behind:
// startTest's cleanup shuts the service down and then runs VerifyNone.

func TestMalformedRequests(t *testing.T) {
	url := startTest(t, defaultConfig())
	good := encodeBinary(randomJob(newRand(2), 10))
	for _, tc := range []struct {
		name, ct string
		body     []byte
		status   int
		says     string
	}{
		{"broken json", "application/json", []byte(`{"lo":0,"hi":`), 400, "json"},
		{"json without window", "application/json", []byte(`{"records":[]}`), 400, "lo and hi are required"},
		{"inverted window", "application/json", []byte(`{"lo":5,"hi":1,"records":[]}`), 400, "lo <= hi"},
		{"bad magic", binaryType, append([]byte("XXXX"), good[4:]...), 400, "MBB1"},
		{"truncated binary", binaryType, good[:len(good)-3], 400, "need"},
		{"short binary", binaryType, good[:10], 400, "header"},
		{"unknown type", "text/plain", good, 415, "want Content-Type application/json"},
		{"empty json", "application/json", nil, 400, "empty body"},
		{"empty binary", binaryType, nil, 400, "header"},
		{"json with a string for a number", "application/json", []byte(`{"lo":"0","hi":1}`), 400, "json: lo: want a number that fits a 32-bit float, got string"},
		{"json record of the wrong type", "application/json", []byte(`{"lo":0,"hi":1,"records":[{"id":-1}]}`), 400, "json: records[0].id: want a whole number"},
		{"json records not an array", "application/json", []byte(`{"lo":0,"hi":1,"records":{}}`), 400, "records must be an array"},
		{"json float32 overflow", "application/json", []byte(`{"lo":0,"hi":1e39}`), 400, "json: hi: want a number that fits a 32-bit float"},
	} {
		code, body, _ := post(t, url, tc.ct, tc.body)
		if code != tc.status || !strings.Contains(string(body), tc.says) {
			t.Errorf("%s: %d %s, want %d mentioning %q", tc.name, code, body, tc.status, tc.says)
		}
		assertNoInternals(t, body)
	}
	resp, err := http.Get(url + "/v1/batch")
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/batch: %v %v", resp.StatusCode, err)
	}
}

func TestOversizedRequests(t *testing.T) {
	cfg := defaultConfig()
	cfg.MaxBody = 64 << 10
	url := startTest(t, cfg)
	big := encodeBinary(randomJob(newRand(3), 10000)) // 160 KiB
	if code, body, _ := post(t, url, binaryType, big); code != 413 {
		t.Errorf("declared length over the limit: %d %s", code, body)
	}
	// Chunked, so the length is unknown until the body has been read.
	req, _ := http.NewRequest("POST", url+"/v1/batch", io.MultiReader(bytes.NewReader(big)))
	req.Header.Set("Content-Type", binaryType)
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.EqualValues(t, 413, resp.StatusCode, "chunked body over the limit")
}

func TestBudgetTooSmallGivesBackPressure(t *testing.T) {
	cfg := defaultConfig()
	cfg.Budget = 16 << 10
	cfg.QueueWait = 20 * time.Millisecond
	url := startTest(t, cfg)
	code, body, h := post(t, url, binaryType, encodeBinary(randomJob(newRand(4), 1000)))
	assertNoInternals(t, body)
	if code != 503 || h.Get("Retry-After") == "" || !strings.Contains(string(body), "memory budget") {
		t.Fatalf("over the budget: %d %s (Retry-After %q)", code, body, h.Get("Retry-After"))
	}
	// A small request still fits.
	if code, body, _ := post(t, url, binaryType, encodeBinary(randomJob(newRand(5), 10))); code != 200 {
		t.Fatalf("within the budget: %d %s", code, body)
	}
}

func TestDeviceBudgetTooSmall(t *testing.T) {
	cfg := defaultConfig()
	cfg.DeviceBudget = 1 << 10
	url := startTest(t, cfg)
	code, body, h := post(t, url, binaryType, encodeBinary(randomJob(newRand(6), 5000)))
	if code != 503 || h.Get("Retry-After") == "" {
		t.Fatalf("over the device budget: %d %s", code, body)
	}
}

func TestClientCancelsMidway(t *testing.T) {
	url := startTest(t, defaultConfig())
	body := encodeBinary(randomJob(newRand(7), 200000))
	for _, after := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/batch", bytes.NewReader(body))
		req.Header.Set("Content-Type", binaryType)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		cancel()
	}
	waitIdle(t)
}

func TestClientDisconnectsMidBody(t *testing.T) {
	url := startTest(t, defaultConfig())
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	fmt.Fprintf(conn, "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 100000\r\n\r\n", binaryType)
	conn.Write(encodeBinary(randomJob(newRand(8), 100))[:500])
	conn.Close()
	waitIdle(t)
}

// waitIdle waits until no request memory is live: the server finishes a
// request whose client went away on its own time.
func waitIdle(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, func(c *assert.CollectT) {
		assert.Zero(c, tracker.TagStats(tagRequest).LiveCount, "request memory live: %+v", tracker.TagStats(tagRequest))
		assert.Zero(c, tracker.TagStats(tagDevice).LiveCount, "device memory live: %+v", tracker.TagStats(tagDevice))
	})
}

func TestCachedAnswerIsTheSame(t *testing.T) {
	url := startTest(t, defaultConfig())
	body := encodeBinary(randomJob(newRand(9), 3000))
	_, first, h1 := post(t, url, binaryType, body)
	_, second, h2 := post(t, url, binaryType, body)
	if h1.Get("X-Cache") != "miss" || h2.Get("X-Cache") != "hit" || !bytes.Equal(first, second) {
		t.Fatalf("cache: %s then %s; equal %v", h1.Get("X-Cache"), h2.Get("X-Cache"), bytes.Equal(first, second))
	}
	var s summary
	if err := json.Unmarshal(second, &s); err != nil || s.Received != 3000 {
		t.Fatalf("cached answer %s: %v", second, err)
	}
}

func TestDeviceOutOfMemory(t *testing.T) {
	if cuda.Backend != "host" {
		t.Skip("the emulated device's size is a host-backend setting; the stand-in driver has MEMBRIDGE_FAKECUDA_MEM")
	}
	t.Setenv("MEMBRIDGE_EMULATED_DEVICE_MEMORY", "65536")
	url := startTest(t, defaultConfig())
	code, body, _ := post(t, url, binaryType, encodeBinary(randomJob(newRand(10), 50000)))
	assertNoInternals(t, body)
	if code != http.StatusInsufficientStorage || !strings.Contains(string(body), "ran out of memory") {
		t.Fatalf("device out of memory: %d %s", code, body)
	}
	if code, body, _ := post(t, url, binaryType, encodeBinary(randomJob(newRand(11), 100))); code != 200 {
		t.Fatalf("a request that fits after the failure: %d %s", code, body)
	}
}

func TestCExtensionOutOfMemory(t *testing.T) {
	url := startTest(t, defaultConfig())
	cexttest.FailNextAllocs(1) // the batch filter's result block
	defer cexttest.FailNextAllocs(0)
	code, body, _ := post(t, url, binaryType, encodeBinary(randomJob(newRand(12), 500)))
	assertNoInternals(t, body)
	if code != http.StatusInsufficientStorage || !strings.Contains(string(body), "ran out of memory") {
		t.Fatalf("C allocation failure: %d %s", code, body)
	}
	if code, body, _ := post(t, url, binaryType, encodeBinary(randomJob(newRand(13), 500))); code != 200 {
		t.Fatalf("the next request: %d %s", code, body)
	}
}

// assertNoInternals checks that an answer tells nothing of the service's
// insides: no ledger figures, Go type or package names, or source paths.
func assertNoInternals(t *testing.T, body []byte) {
	t.Helper()
	for _, inside := range []string{"main.", "jsonJob", "jsonIn", "float32", "uint64", "tracker", "native:", "service:", "live", ".go", "OUT_OF_MEMORY", "batch:", "/work/", "examples/"} {
		if strings.Contains(string(body), inside) {
			t.Errorf("the answer %s shows the service's internals (%q)", body, inside)
		}
	}
}
