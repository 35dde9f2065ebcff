package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/membridge/membridge/batch"
)

// A load sends realistic batches to the service from several clients, for
// a bounded time and number of requests, to loopback only, and checks a
// share of the answers against a reference computed in Go.
type load struct {
	URL       string
	Clients   int
	Duration  time.Duration
	MaxReqs   int64
	MinBatch  int
	MaxBatch  int
	Repeat    float64 // share of requests that repeat an earlier one (cache hits)
	JSONShare float64 // share sent as JSON; the rest as binary
	Progress  func(loadStats)
}

type loadStats struct {
	Elapsed           time.Duration
	Requests, OK      int64
	Busy, Failed, Bad int64 // 503s, other errors, wrong answers
	CacheHits         int64
	Latencies         []time.Duration // of OK requests, for percentiles
	RecordsProcessed  int64
}

func (l load) run(ctx context.Context) loadStats {
	ctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	var (
		mu     sync.Mutex
		st     loadStats
		sent   atomic.Int64
		start  = time.Now()
		wg     sync.WaitGroup
		client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: l.Clients}}
	)
	if l.Progress != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					mu.Lock()
					snap := st
					snap.Latencies = slices.Clone(st.Latencies)
					mu.Unlock()
					snap.Elapsed = time.Since(start)
					l.Progress(snap)
				}
			}
		}()
	}
	for c := range l.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			var history []*job
			for ctx.Err() == nil && (l.MaxReqs == 0 || sent.Add(1) <= l.MaxReqs) {
				var j *job
				if len(history) > 0 && rng.Float64() < l.Repeat {
					j = history[rng.IntN(len(history))]
				} else {
					j = randomJob(rng, l.MinBatch+rng.IntN(l.MaxBatch-l.MinBatch+1))
					if len(history) < 32 {
						history = append(history, j)
					}
				}
				asJSON := rng.Float64() < l.JSONShare
				if asJSON {
					j = jsonSafe(j)
				}
				t0 := time.Now()
				got, status, hit, err := send(ctx, client, l.URL, j, asJSON)
				took := time.Since(t0)
				mu.Lock()
				st.Requests++
				switch {
				case ctx.Err() != nil && err != nil:
					st.Requests-- // cut off by the end of the run
				case err != nil || (status != 200 && status != 503):
					st.Failed++
				case status == 503:
					st.Busy++
				case !matches(got, reference(j)):
					st.Bad++
				default:
					st.OK++
					st.RecordsProcessed += int64(len(j.Records))
					st.Latencies = append(st.Latencies, took)
					if hit {
						st.CacheHits++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()
	st.Elapsed = time.Since(start)
	return st
}

func send(ctx context.Context, c *http.Client, url string, j *job, asJSON bool) (*summary, int, bool, error) {
	var body []byte
	ct := binaryType
	if asJSON {
		ct = "application/json"
		jj := jsonJob{Lo: &j.Lo, Hi: &j.Hi, Gain: &j.Gain, Bias: j.Bias, Min: &j.Min, Max: &j.Max, Values: j.Values}
		for _, r := range j.Records {
			jj.Records = append(jj.Records, jsonRecord{ID: r.ID, Value: r.Value})
		}
		var err error
		if body, err = json.Marshal(jj); err != nil {
			return nil, 0, false, err
		}
	} else {
		body = encodeBinary(j)
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/v1/batch", bytes.NewReader(body))
	if err != nil {
		return nil, 0, false, err
	}
	req.Header.Set("Content-Type", ct)
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, false, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return nil, resp.StatusCode, false, err
	}
	var s summary
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, resp.StatusCode, false, fmt.Errorf("load: response %q: %w", raw, err)
	}
	return &s, 200, resp.Header.Get("X-Cache") == "hit", nil
}

// jsonSafe returns j, or a copy with NaN readings (which JSON cannot
// carry) replaced by a far outlier.
func jsonSafe(j *job) *job {
	if !slices.ContainsFunc(j.Records, func(r batch.Record) bool { return r.Value != r.Value }) {
		return j
	}
	c := *j
	c.Records = slices.Clone(j.Records)
	for i := range c.Records {
		if v := c.Records[i].Value; v != v {
			c.Records[i].Value = 1e9
		}
	}
	return &c
}

// randomJob makes a batch of sensor readings: mostly in range, some
// outliers, a few NaNs, as such feeds look.
func randomJob(rng *rand.Rand, n int) *job {
	j := &job{Lo: -50, Hi: 150, Gain: 1 + float32(rng.NormFloat64())*0.01, Bias: float32(rng.NormFloat64()), Min: 0, Max: 100}
	j.Records = make([]batch.Record, n)
	for i := range j.Records {
		v := float32(50 + 30*rng.NormFloat64())
		switch rng.IntN(100) {
		case 0:
			v = float32(math.NaN())
		case 1, 2:
			v *= 10
		}
		j.Records[i] = batch.Record{ID: rng.Uint64(), Value: v}
	}
	j.Values = rng.IntN(10) == 0
	return j
}

// reference computes in Go what the service computes in C and on the device.
func reference(j *job) *summary {
	s := &summary{Received: len(j.Records)}
	for _, r := range j.Records {
		if !(r.Value >= j.Lo && r.Value <= j.Hi) {
			continue
		}
		y := min(max(j.Gain*r.Value+j.Bias, j.Min), j.Max)
		s.Kept++
		s.Sum += y
		if j.Values {
			s.Values = append(s.Values, y)
		}
	}
	if s.Kept > 0 {
		s.Mean = s.Sum / float32(s.Kept)
	}
	return s
}

// matches compares a response with the reference: counts exactly, sums to
// float32 accuracy (the device adds in another order), values nearly exactly.
func matches(got, want *summary) bool {
	if got == nil || got.Received != want.Received || got.Kept != want.Kept || len(got.Values) != len(want.Values) {
		return false
	}
	near := func(a, b, scale float64) bool { return math.Abs(a-b) <= 1e-4*max(scale, 1) }
	if !near(float64(got.Sum), float64(want.Sum), float64(want.Kept)*100) {
		return false
	}
	for i := range got.Values {
		if !near(float64(got.Values[i]), float64(want.Values[i]), 100) {
			return false
		}
	}
	return true
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 42)) }
