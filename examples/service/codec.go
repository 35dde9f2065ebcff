package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/membridge/membridge/batch"
	"github.com/membridge/membridge/native"
)

// A job is one request's work: the filter window, the calibration and the
// records, which live in the request's arena (C memory), not on Go's heap.
type job struct {
	Lo, Hi     float32 // keep records whose raw value lies in [Lo, Hi]
	Gain, Bias float32 // calibrate kept values: Gain*x + Bias ...
	Min, Max   float32 // ... clamped to [Min, Max]
	Values     bool    // return the calibrated values, not only the summary
	Records    []batch.Record
}

// errBadRequest marks errors the client caused (HTTP 400).
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// jsonJob is the JSON form of a request.
type jsonJob struct {
	Lo      *float32     `json:"lo"`
	Hi      *float32     `json:"hi"`
	Gain    *float32     `json:"gain"`
	Bias    float32      `json:"bias"`
	Min     *float32     `json:"min"`
	Max     *float32     `json:"max"`
	Values  bool         `json:"values"`
	Records []jsonRecord `json:"records"`
}

type jsonRecord struct {
	ID    uint64  `json:"id"`
	Value float32 `json:"value"`
}

// decodeJSON parses a JSON request into the arena. The JSON records are
// parsed on Go's heap first (encoding/json needs somewhere to put them);
// the binary form avoids that copy.
func decodeJSON(body []byte, a *native.Arena) (*job, error) {
	var jj jsonJob
	if err := json.Unmarshal(body, &jj); err != nil {
		return nil, badRequest("json: %v", err)
	}
	if jj.Lo == nil || jj.Hi == nil {
		return nil, badRequest("json: lo and hi are required")
	}
	j := &job{Lo: *jj.Lo, Hi: *jj.Hi, Gain: 1, Bias: jj.Bias, Min: float32(math.Inf(-1)), Max: float32(math.Inf(1)), Values: jj.Values}
	if jj.Gain != nil {
		j.Gain = *jj.Gain
	}
	if jj.Min != nil {
		j.Min = *jj.Min
	}
	if jj.Max != nil {
		j.Max = *jj.Max
	}
	recs, err := native.MakeSliceIn[batch.Record](a, len(jj.Records))
	if err != nil {
		return nil, fmt.Errorf("service: %d records into the request arena: %w", len(jj.Records), err)
	}
	for i, r := range jj.Records {
		recs[i] = batch.Record{ID: r.ID, Value: r.Value}
	}
	j.Records = recs
	return j, j.validate()
}

// The binary form, little-endian:
//
//	"MBB1" | flags u32 (bit 0: return values) | count u32 |
//	lo hi gain bias min max f32 | count x (id u64, value f32, pad u32)
//
// Each record has batch.Record's layout, so records are copied into the
// arena as they are.
const (
	binaryMagic  = "MBB1"
	binaryHeader = 4 + 4 + 4 + 6*4
	recordSize   = 16
)

func decodeBinary(body []byte, a *native.Arena) (*job, error) {
	if len(body) < binaryHeader || string(body[:4]) != binaryMagic {
		return nil, badRequest("binary: want %q and a %d-byte header", binaryMagic, binaryHeader)
	}
	le := binary.LittleEndian
	flags, count := le.Uint32(body[4:]), int(le.Uint32(body[8:]))
	f := func(i int) float32 { return math.Float32frombits(le.Uint32(body[12+4*i:])) }
	if want := binaryHeader + count*recordSize; len(body) != want {
		return nil, badRequest("binary: %d records need %d bytes, got %d", count, want, len(body))
	}
	j := &job{Lo: f(0), Hi: f(1), Gain: f(2), Bias: f(3), Min: f(4), Max: f(5), Values: flags&1 != 0}
	recs, err := native.MakeSliceIn[batch.Record](a, count)
	if err != nil {
		return nil, fmt.Errorf("service: %d records into the request arena: %w", count, err)
	}
	for i := range recs {
		p := body[binaryHeader+i*recordSize:]
		recs[i] = batch.Record{ID: le.Uint64(p), Value: math.Float32frombits(le.Uint32(p[8:]))}
	}
	j.Records = recs
	return j, j.validate()
}

// encodeBinary is the client side of decodeBinary (the load generator's).
func encodeBinary(j *job) []byte {
	le := binary.LittleEndian
	out := make([]byte, 0, binaryHeader+len(j.Records)*recordSize)
	out = append(out, binaryMagic...)
	flags := uint32(0)
	if j.Values {
		flags = 1
	}
	out = le.AppendUint32(out, flags)
	out = le.AppendUint32(out, uint32(len(j.Records)))
	for _, v := range []float32{j.Lo, j.Hi, j.Gain, j.Bias, j.Min, j.Max} {
		out = le.AppendUint32(out, math.Float32bits(v))
	}
	for _, r := range j.Records {
		out = le.AppendUint64(out, r.ID)
		out = le.AppendUint32(out, math.Float32bits(r.Value))
		out = le.AppendUint32(out, 0)
	}
	return out
}

func (j *job) validate() error {
	for _, v := range []float32{j.Lo, j.Hi, j.Gain, j.Bias} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return badRequest("lo, hi, gain and bias must be finite")
		}
	}
	if !(j.Lo <= j.Hi) || !(j.Min <= j.Max) {
		return badRequest("want lo <= hi and min <= max")
	}
	return nil
}

// summary is the response.
type summary struct {
	Received int       `json:"received"`
	Kept     int       `json:"kept"`
	Sum      float32   `json:"sum"`
	Mean     float32   `json:"mean"`
	Values   []float32 `json:"values,omitempty"`
	Backend  string    `json:"backend"`
}
