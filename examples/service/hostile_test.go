package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/batch"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
)

// The hostile-client suite: each test plays an attacker on loopback, bounded
// in connections and time, while a legitimate client keeps sending; the
// legitimate requests must still get right answers (at least 90% of them),
// and the test ends with the ledger checked empty (startTest's cleanup).

// hostileConfig shortens the timeouts so the attacks end in a test's time.
func hostileConfig() config {
	cfg := defaultConfig()
	cfg.HeaderTimeout = time.Second
	cfg.BodyGrace = 500 * time.Millisecond
	cfg.WriteTimeout = 500 * time.Millisecond
	cfg.IdleTimeout = 500 * time.Millisecond
	return cfg
}

// legitimate sends n small requests one after another, as a well-behaved
// client does, and counts those answered 200 with the right answer.
func legitimate(t *testing.T, url string, n int, seed uint64) (ok int) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	rng := newRand(seed)
	for i := range n {
		j := jsonSafe(randomJob(rng, 1+rng.IntN(2000)))
		got, status, _, err := send(context.Background(), client, url, j, i%2 == 0)
		if err == nil && status == 200 && matches(got, reference(j)) {
			ok++
		} else {
			t.Logf("legitimate request %d: status %d, err %v", i, status, err)
		}
	}
	return ok
}

// assertServed checks that at least 90% of n legitimate requests were served.
func assertServed(t *testing.T, ok, n int) {
	t.Helper()
	assert.GreaterOrEqual(t, ok*10, n*9, "legitimate requests answered right: %d of %d", ok, n)
}

// dial opens a raw connection to the service.
func dial(t *testing.T, url string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor waits until cond holds (testkit.Eventually); what names the
// condition if it never does.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, func(c *assert.CollectT) { assert.True(c, cond(), what) })
}

// readStatus reads the status code of the answer on c, within d.
func readStatus(t *testing.T, c net.Conn, d time.Duration) int {
	t.Helper()
	code, err := statusOn(c, d)
	require.NoError(t, err, "no answer within %s", d)
	return code
}

// statusOn is readStatus for any goroutine: it returns the error.
func statusOn(c net.Conn, d time.Duration) (int, error) {
	c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// header writes a request's headers, declaring length bytes of body
// (chunked when length < 0).
func header(c net.Conn, length int) {
	te := fmt.Sprintf("Content-Length: %d", length)
	if length < 0 {
		te = "Transfer-Encoding: chunked"
	}
	fmt.Fprintf(c, "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n%s\r\n\r\n", binaryType, te)
}

// requestBytes is the request budget in use.
func requestBytes() int64 { return tracker.TagStats(tagRequest).LiveBytes }

// Clients that declare a maximal body, send 4 bytes and idle hold only what
// they sent (a first step of the buffer), not the length they declared, and
// are cut off with 408 once they fall behind the minimum rate.
func TestIdleClientsHoldingDeclaredBodies(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			cfg := hostileConfig()
			cfg.BodyGrace = 3 * time.Second // long enough for the legitimate client to run meanwhile
			url := startTest(t, cfg)
			const idlers = 32
			conns := make([]net.Conn, idlers)
			for i := range conns {
				conns[i] = dial(t, url)
				if chunked {
					header(conns[i], -1)
					io.WriteString(conns[i], "800000\r\nMBB1")
				} else {
					header(conns[i], int(cfg.MaxBody))
					io.WriteString(conns[i], "MBB1")
				}
			}
			waitFor(t, "every idle body in the ledger", func() bool { return tracker.TagStats(tagRequest).LiveCount >= idlers })
			assert.LessOrEqual(t, requestBytes(), int64(idlers*firstBodyStep), "the idle clients hold more than they sent")
			assertServed(t, legitimate(t, url, 40, 1), 40)
			for _, c := range conns {
				assert.Equal(t, http.StatusRequestTimeout, readStatus(t, c, cfg.BodyGrace+5*time.Second))
			}
			waitIdle(t)
		})
	}
}

// A body that trickles in slower than MinBodyRate is cut with 408 after the
// grace, and what it held goes back; a body that keeps up is served.
func TestSlowBodies(t *testing.T) {
	cfg := hostileConfig()
	cfg.MinBodyRate = 16 << 10
	url := startTest(t, cfg)
	body := encodeBinary(randomJob(newRand(20), 4000)) // 64 KiB
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	start := time.Now()
	for i := range statuses {
		c := dial(t, url)
		wg.Add(2)
		go func() {
			defer wg.Done()
			header(c, len(body))
			// 256 bytes every 50 ms: 5 KiB/s, a third of the minimum.
			for at := 0; at < len(body) && time.Since(start) < 5*time.Second; at += 256 {
				if _, err := c.Write(body[at:min(at+256, len(body))]); err != nil {
					break // cut off
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		go func() {
			defer wg.Done()
			statuses[i], _ = statusOn(c, 5*time.Second)
			c.Close()
		}()
	}
	assertServed(t, legitimate(t, url, 40, 2), 40)
	wg.Wait()
	for i, st := range statuses {
		assert.Equal(t, http.StatusRequestTimeout, st, "slow body %d", i)
	}
	waitIdle(t)

	// The same body at 1 MiB/s (in 16 KiB pieces) is in time.
	c := dial(t, url)
	header(c, len(body))
	for at := 0; at < len(body); at += 16 << 10 {
		c.Write(body[at:min(at+16<<10, len(body))])
		time.Sleep(15 * time.Millisecond)
	}
	assert.Equal(t, 200, readStatus(t, c, 5*time.Second))
}

// Chunked bodies that are empty or malformed are the client's fault: 400.
func TestChunkedAbuse(t *testing.T) {
	url := startTest(t, hostileConfig())
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"empty", "0\r\n\r\n", 400},
		{"bad chunk size", "zz\r\nMBB1\r\n0\r\n\r\n", 400},
		{"chunk size overflowing", "ffffffffffffffffff\r\nMBB1", 400},
		{"chunk without its line end", "4\r\nMBB1XX0\r\n\r\n", 400},
		{"chunk extension flood", "4;" + strings.Repeat("x", 8<<10) + "\r\nMBB1\r\n0\r\n\r\n", 400},
	} {
		c := dial(t, url)
		header(c, -1)
		io.WriteString(c, tc.body)
		assert.Equal(t, tc.status, readStatus(t, c, 5*time.Second), tc.name)
		c.Close()
		assertServed(t, legitimate(t, url, 10, 5), 10)
	}
	waitIdle(t)
}

// Clients that ask for a large answer and never read it are abandoned after
// WriteTimeout: the request's memory goes back while they still hold the
// connection, and they get a truncated answer.
func TestSlowReaders(t *testing.T) {
	cfg := hostileConfig()
	url := startTest(t, cfg)
	// 400,000 values of 15 digits each: an answer of 6 MB, more than the
	// sockets buffer.
	j := randomJob(newRand(21), 400000)
	j.Gain, j.Bias, j.Min, j.Max, j.Values = 1.2345678e-7, 0, -1, 1, true
	body := encodeBinary(j)
	const readers = 16
	conns := make([]net.Conn, readers)
	for i := range conns {
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		c, err := d.Dial("tcp", strings.TrimPrefix(url, "http://"))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		header(c, len(body))
		_, err = c.Write(body)
		require.NoError(t, err)
		conns[i] = c
	}
	ok := legitimate(t, url, 40, 3)
	// Nobody has read a byte of the answers, and yet the requests are over.
	waitFor(t, "the slow readers' requests abandoned", func() bool {
		return tracker.TagStats(tagRequest).LiveCount == 0 && tracker.TagStats(tagDevice).LiveCount == 0
	})
	assertServed(t, ok, 40)
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.Copy(io.Discard, c)
		assert.NoError(t, err, "reader %d", i)
		assert.Less(t, n, int64(6e6), "reader %d got the whole answer", i)
	}
}

// Connections that send nothing, or one request and then idle, are closed
// after HeaderTimeout and IdleTimeout.
func TestIdleConnectionFlood(t *testing.T) {
	cfg := hostileConfig()
	url := startTest(t, cfg)
	const silent, keepAlive = 100, 400
	var conns []net.Conn
	for range silent {
		conns = append(conns, dial(t, url))
	}
	small := encodeBinary(randomJob(newRand(22), 10))
	for range keepAlive {
		c := dial(t, url)
		header(c, len(small))
		c.Write(small)
		require.Equal(t, 200, readStatus(t, c, 5*time.Second))
		conns = append(conns, c)
	}
	assertServed(t, legitimate(t, url, 40, 4), 40)
	var closed int
	deadline := time.Now().Add(cfg.HeaderTimeout + cfg.IdleTimeout + 5*time.Second)
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	assert.Equal(t, len(conns), closed, "connections the service closed")
	waitIdle(t)
}

// Beyond MaxInFlight requests, the next gets 503 with Retry-After at once;
// the request's memory is not touched.
func TestRequestsInFlightAreCapped(t *testing.T) {
	cfg := hostileConfig()
	cfg.MaxInFlight = 4
	cfg.BodyGrace = 3 * time.Second
	url := startTest(t, cfg)
	for range cfg.MaxInFlight {
		header(dial(t, url), 1000)
	}
	waitFor(t, "the slots taken", func() bool { return tracker.TagStats(tagRequest).LiveCount == int64(cfg.MaxInFlight) })
	start := time.Now()
	code, body, h := post(t, url, binaryType, encodeBinary(randomJob(newRand(23), 10)))
	assert.Less(t, time.Since(start), cfg.QueueWait, "the answer beyond the cap waits")
	assert.Equal(t, 503, code)
	assert.Equal(t, "1", h.Get("Retry-After"))
	assert.Contains(t, string(body), "retry later")
	assertNoInternals(t, body)
}

// Headers larger than MaxHeaderBytes get 431.
func TestHeadersTooLarge(t *testing.T) {
	cfg := hostileConfig()
	url := startTest(t, cfg)
	req, _ := http.NewRequest("POST", url+"/v1/batch", bytes.NewReader(nil))
	req.Header.Set("X-Flood", strings.Repeat("x", 2*cfg.MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
}

// A result JSON cannot carry (±Inf, NaN) is a 422 with a JSON error, and is
// never cached.
func TestNonFiniteResults(t *testing.T) {
	url := startTest(t, defaultConfig())
	inf := float32(math.Inf(1))
	bin := encodeBinary(&job{Lo: 0, Hi: 10, Gain: 1, Min: inf, Max: inf, Values: true, Records: []batch.Record{{ID: 1, Value: 1}, {ID: 2, Value: 2}}})
	for _, tc := range []struct {
		name, ct string
		body     []byte
	}{
		{"sum overflows", "application/json", []byte(`{"lo":-3e38,"hi":3e38,"gain":10,"records":[{"id":1,"value":1e38}]}`)},
		{"values overflow", "application/json", []byte(`{"lo":-3e38,"hi":3e38,"gain":10,"values":true,"records":[{"id":1,"value":1e38},{"id":2,"value":-1e38}]}`)},
		{"clamped to +Inf", binaryType, bin},
	} {
		for try := range 2 {
			code, body, h := post(t, url, tc.ct, tc.body)
			assert.Equal(t, http.StatusUnprocessableEntity, code, "%s, try %d: %s", tc.name, try, body)
			assert.NotEqual(t, "hit", h.Get("X-Cache"), tc.name)
			var e struct{ Error string }
			assert.NoError(t, json.Unmarshal(body, &e), tc.name)
			assert.Contains(t, e.Error, "not finite", tc.name)
			assertNoInternals(t, body)
		}
		assertServed(t, legitimate(t, url, 10, 6), 10)
	}
}
