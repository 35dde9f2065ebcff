package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary a service for TestMemoryBoundedByBudget to
// measure: the child's peak RSS is the service's alone.
const childEnv = "MEMBRIDGE_SERVICE_CHILD"

// The budget bounds the whole process: with the budget at 128 MiB, 8
// concurrent maximal bodies (8 MiB of JSON records, each asking for the
// values back) for 3 rounds keep the service's peak RSS within twice the
// budget plus 128 MiB, while a legitimate client is still served.
// underASan is set by asan_test.go in a -asan build.
var underASan bool

func TestMemoryBoundedByBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 192 MiB of JSON")
	}
	if underASan {
		t.Skip("under -asan the sanitizer's shadow memory and quarantine are most of the RSS")
	}
	const budget = 128 << 20
	cmd := exec.Command(os.Args[0], "-test.run=^TestServiceChild$", "-test.count=1")
	// The child keeps the ledger as a service in production does (sampled
	// stacks, no poisoning or quarantine of freed memory).
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(budget), "MEMBRIDGE_TRACK=sample")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var url string
	for url == "" && lines.Scan() {
		url, _ = strings.CutPrefix(lines.Text(), "serving ")
	}
	require.NotEmpty(t, url, "the child did not start serving")

	body := maximalJSON(defaultConfig().MaxBody)
	client := &http.Client{Timeout: time.Minute}
	var mu sync.Mutex
	statuses := map[int]int{}
	start := time.Now()
	for round := range 3 {
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Post(url+"/v1/batch", "application/json", bytes.NewReader(body))
				code := 0
				if err == nil {
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
					if code == 200 && n < int64(2*len(body)/3) {
						code = -1 // truncated
					}
				}
				mu.Lock()
				statuses[code]++
				mu.Unlock()
			}()
		}
		ok := legitimate(t, url, 10, uint64(100+round))
		wg.Wait()
		assertServed(t, ok, 10)
		t.Logf("round %d done after %s", round, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("maximal requests by status: %v", statuses)
	assert.Positive(t, statuses[200], "no maximal request was served")
	assert.Equal(t, 24, statuses[200]+statuses[503], "maximal requests answered other than 200 or 503")

	stdin.Close() // the child reports its peak, shuts down and checks its ledger
	var hwm, atStart int64
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "vmhwm "); ok {
			hwm, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(lines.Text(), "vmhwm-start "); ok {
			atStart, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	require.NoError(t, cmd.Wait(), "the child failed (its ledger not empty at shutdown?)")
	require.Positive(t, hwm, "the child did not report its peak RSS")
	limit := int64(2*budget + 128<<20)
	t.Logf("the service's peak RSS: %.1f MiB (%.1f MiB when it started serving; bound %.0f MiB)", float64(hwm)/(1<<20), float64(atStart)/(1<<20), float64(limit)/(1<<20))
	assert.LessOrEqual(t, hwm, limit)
}

// maximalJSON is a JSON request of exactly n bytes: as many records as fit,
// each `{}`, all kept and asked back.
func maximalJSON(n int64) []byte {
	head, tail := `{"lo":-1,"hi":1,"values":true,"records":[{}`, `]}`
	var b bytes.Buffer
	b.Grow(int(n))
	b.WriteString(head)
	for int64(b.Len()+3+len(tail)) <= n {
		b.WriteString(",{}")
	}
	b.WriteString(tail)
	b.WriteString(strings.Repeat(" ", int(n)-b.Len()))
	return b.Bytes()
}

// TestServiceChild is the service TestMemoryBoundedByBudget measures: it
// serves until its stdin closes, prints its peak RSS, shuts down and fails
// if anything is left in the ledger.
func TestServiceChild(t *testing.T) {
	v := os.Getenv(childEnv)
	if v == "" {
		t.Skip("run by TestMemoryBoundedByBudget")
	}
	cfg := defaultConfig()
	budget, err := strconv.ParseInt(v, 10, 64)
	require.NoError(t, err)
	cfg.Budget = budget
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(testLog(), nil))
	srv, err := start(cfg, log, ln, nil)
	require.NoError(t, err)
	fmt.Printf("serving http://%s\nvmhwm-start %d\n", ln.Addr(), vmHWM())
	io.Copy(io.Discard, os.Stdin)
	fmt.Printf("vmhwm %d\n", vmHWM())
	require.NoError(t, srv.shutdown(log))
}

// vmHWM is the process's peak resident set size in bytes (Linux).
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
