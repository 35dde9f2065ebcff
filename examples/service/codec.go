package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

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

// errBadRequest marks errors the client caused (HTTP 400); they are
// clientErrors, whose message is for the client.
var errBadRequest = errors.New("bad request")

// A clientError says what the client did wrong, in the client's terms.
type clientError struct{ msg string }

func (e *clientError) Error() string        { return "bad request: " + e.msg }
func (e *clientError) Is(target error) bool { return target == errBadRequest }

func badRequest(format string, args ...any) error {
	return &clientError{fmt.Sprintf(format, args...)}
}

// jsonRequest is the JSON form of a request; R is how its records are
// held.
type jsonRequest[R any] struct {
	Lo      *float32 `json:"lo"`
	Hi      *float32 `json:"hi"`
	Gain    *float32 `json:"gain"`
	Bias    float32  `json:"bias"`
	Min     *float32 `json:"min"`
	Max     *float32 `json:"max"`
	Values  bool     `json:"values"`
	Records R        `json:"records"`
}

// jsonJob is the JSON form as a client writes it.
type jsonJob = jsonRequest[[]jsonRecord]

type jsonRecord struct {
	ID    uint64  `json:"id"`
	Value float32 `json:"value"`
}

// jsonIn is the JSON form as the service reads it, with the records
// decoded straight into the request's arena.
type jsonIn = jsonRequest[arenaRecords]

// arenaRecords decodes a JSON array of records into arena memory: it counts
// the elements first (json has checked the syntax by then), takes exactly
// that many records from the arena and fills them in place
// (decodeRecords). No record is held on Go's heap, so the request budget (the arena's
// tag) sees all of them.
type arenaRecords struct {
	arena *native.Arena
	recs  []batch.Record
}

func (ar *arenaRecords) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	if len(data) == 0 || data[0] != '[' {
		return badRequest("json: records must be an array")
	}
	n := countElements(data)
	recs, err := native.MakeSliceIn[batch.Record](ar.arena, n)
	if err != nil {
		return fmt.Errorf("service: %d records into the request arena: %w", n, err)
	}
	if err := decodeRecords(data, recs); err != nil {
		return err
	}
	ar.recs = recs
	return nil
}

// countElements counts the top-level elements of a syntactically valid
// JSON array.
func countElements(array []byte) int {
	depth, commas, inString, escaped, empty := 0, 0, false, false, true
	for _, c := range array {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		if depth == 1 && c != ']' {
			empty = false
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 1 {
				commas++
			}
		}
	}
	if empty {
		return 0
	}
	return commas + 1
}

// jsonError says what was wrong with the client's JSON in the client's
// terms: where, and what was expected, never the Go types behind it.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return badRequest("json: invalid syntax at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		f := typ.Field
		if f == "" {
			f = "value"
		}
		return badRequest("json: %s: want %s, got %s", strings.ToLower(f), jsonKind(typ.Type.Kind()), typ.Value)
	case errors.Is(err, errBadRequest):
		return err
	case err.Error() == "unexpected end of JSON input":
		return badRequest("json: the body ends too soon")
	}
	return err // the service's own (the arena's budget), not the client's
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Float32, reflect.Float64:
		return "a number that fits a 32-bit float"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number from 0 to 2^64-1"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "another type"
}

// decodeJSON parses a JSON request; its records go into the arena.
func decodeJSON(body []byte, a *native.Arena) (*job, error) {
	if len(body) == 0 {
		return nil, badRequest("json: empty body")
	}
	jj := jsonIn{Records: arenaRecords{arena: a}}
	if err := json.Unmarshal(body, &jj); err != nil {
		return nil, jsonError(err)
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
	j.Records = jj.Records.recs
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

// errNotFinite marks a result that JSON cannot carry (HTTP 422).
var errNotFinite = errors.New("not finite")

// finite checks that the summary and the values are finite numbers.
func (s *summary) finite(vals []float32) error {
	for _, v := range []float32{s.Sum, s.Mean} {
		if isInfOrNaN(v) {
			return fmt.Errorf("%w: the sum of the calibrated values is %v; narrow the window, lower the gain or clamp with min and max", errNotFinite, v)
		}
	}
	for i, v := range vals {
		if isInfOrNaN(v) {
			return fmt.Errorf("%w: calibrated value %d is %v; lower the gain or clamp with min and max", errNotFinite, i, v)
		}
	}
	return nil
}

func isInfOrNaN(v float32) bool { return v-v != 0 }

// encodeSummary writes s and vals as JSON, with encoding/json's number
// format, through buf (whose capacity it keeps to), to flush whenever buf is
// nearly full. It returns what is left in buf, for the caller to flush. The
// values must be finite (see finite).
func encodeSummary(s *summary, vals []float32, buf []byte, flush func([]byte) error) ([]byte, error) {
	const room = 32 // a float32 and a comma take at most 24 bytes
	b := append(buf[:0], `{"received":`...)
	b = strconv.AppendInt(b, int64(s.Received), 10)
	b = append(b, `,"kept":`...)
	b = strconv.AppendInt(b, int64(s.Kept), 10)
	b = append(b, `,"sum":`...)
	b = appendFloat32(b, s.Sum)
	b = append(b, `,"mean":`...)
	b = appendFloat32(b, s.Mean)
	if len(vals) > 0 {
		b = append(b, `,"values":[`...)
		for i, v := range vals {
			if cap(b)-len(b) < room {
				if err := flush(b); err != nil {
					return nil, err
				}
				b = b[:0]
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat32(b, v)
		}
		b = append(b, ']')
	}
	if cap(b)-len(b) < room+len(s.Backend) {
		if err := flush(b); err != nil {
			return nil, err
		}
		b = b[:0]
	}
	b = append(b, `,"backend":`...)
	b = strconv.AppendQuote(b, s.Backend)
	b = append(b, "}\n"...)
	return b, nil
}

// appendFloat32 formats f as encoding/json does a float32.
func appendFloat32(b []byte, f float32) []byte {
	format := byte('f')
	if abs := math.Abs(float64(f)); abs != 0 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, float64(f), format, -1, 32)
	if format == 'e' { // e-09 to e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
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
