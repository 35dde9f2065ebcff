package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/tracker/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// startTest serves a service on a loopback port for one test.
func startTest(t *testing.T, cfg config) string {
	t.Helper()
	url, _ := startWithDebug(t, cfg)
	return url
}

// startWithDebug serves a service and its debug endpoints on two loopback
// ports for one test; its cleanup shuts them down and checks that the
// ledger is empty.
func startWithDebug(t *testing.T, cfg config) (url, debugURL string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	debugLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(testLog(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := start(cfg, log, ln, debugLn)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, srv.shutdown(log))
		leaktest.VerifyNone(t)
	})
	return "http://" + ln.Addr().String(), "http://" + debugLn.Addr().String()
}

func post(t *testing.T, url, ct string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Post(url+"/v1/batch", ct, bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, resp.Header
}

func TestShortLoadAllAnswersRight(t *testing.T) {
	url := startTest(t, defaultConfig())
	st := load{URL: url, Clients: 4, Duration: 3 * time.Second, MaxReqs: 400, MinBatch: 1, MaxBatch: 20000, Repeat: 0.2, JSONShare: 0.5}.run(context.Background())
	if st.Failed > 0 || st.Bad > 0 || st.OK == 0 {
		t.Fatalf("%d requests: %d ok, %d failed, %d wrong", st.Requests, st.OK, st.Failed, st.Bad)
	}
}

func TestJSONAndBinaryGiveTheSameAnswer(t *testing.T) {
	url := startTest(t, defaultConfig())
	j := jsonSafe(randomJob(newRand(1), 5000))
	j.Values = true
	jj := jsonJob{Lo: &j.Lo, Hi: &j.Hi, Gain: &j.Gain, Bias: j.Bias, Min: &j.Min, Max: &j.Max, Values: true}
	for _, r := range j.Records {
		jj.Records = append(jj.Records, jsonRecord{ID: r.ID, Value: r.Value})
	}
	jb, _ := json.Marshal(jj)
	code1, body1, _ := post(t, url, "application/json", jb)
	code2, body2, _ := post(t, url, binaryType, encodeBinary(j))
	if code1 != 200 || code2 != 200 {
		t.Fatalf("status %d %.200s / %d %.200s", code1, body1, code2, body2)
	}
	var a, b summary
	json.Unmarshal(body1, &a)
	json.Unmarshal(body2, &b)
	if !matches(&a, reference(j)) || !matches(&b, reference(j)) {
		t.Fatalf("answers differ from the reference: %+v / %+v", a.Sum, b.Sum)
	}
}

// testLog is where the service under test logs: nowhere, unless
// MEMBRIDGE_SERVICE_LOG=1 asks for stderr.
func testLog() io.Writer {
	if os.Getenv("MEMBRIDGE_SERVICE_LOG") == "1" {
		return os.Stderr
	}
	return io.Discard
}
