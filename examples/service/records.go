package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/membridge/membridge/batch"
)

// decodeRecords parses a JSON array of records into recs, which has room
// for exactly its elements (countElements). The array must be valid JSON
// (encoding/json has checked the whole body before it hands the records
// over), so this only reads it, as encoding/json would into
// []struct{ID uint64; Value float32}: keys match case-insensitively, other
// keys are skipped, null leaves a zero, the last of a repeated key wins. It
// exists because encoding/json's reflection costs a few hundred
// nanoseconds a record, the most of a JSON request's time.
func decodeRecords(data []byte, recs []batch.Record) error {
	d := recordDecoder{b: data}
	d.space()
	d.i++ // [
	d.space()
	if d.b[d.i] == ']' {
		return nil
	}
	for k := 0; ; k++ {
		switch d.b[d.i] {
		case 'n':
			d.i += len("null")
		case '{':
			if err := d.record(k, &recs[k]); err != nil {
				return err
			}
		default:
			return badRequest("json: records[%d]: want an object, got %s", k, d.kind())
		}
		d.space()
		if d.b[d.i] == ']' {
			return nil
		}
		d.i++ // ,
		d.space()
	}
}

type recordDecoder struct {
	b []byte
	i int
}

func (d *recordDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// record reads the object at d.i into r.
func (d *recordDecoder) record(k int, r *batch.Record) error {
	d.i++ // {
	d.space()
	if d.b[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		key := d.str()
		d.space()
		d.i++ // :
		d.space()
		switch {
		case bytes.EqualFold(key, []byte("id")):
			if d.b[d.i] == 'n' {
				d.i += len("null")
				break
			}
			tok, ok := d.number()
			if !ok {
				return badRequest("json: records[%d].id: want a whole number from 0 to 2^64-1, got %s", k, d.kind())
			}
			id, err := strconv.ParseUint(string(tok), 10, 64)
			if err != nil {
				return badRequest("json: records[%d].id: want a whole number from 0 to 2^64-1, got number %s", k, tok)
			}
			r.ID = id
		case bytes.EqualFold(key, []byte("value")):
			if d.b[d.i] == 'n' {
				d.i += len("null")
				break
			}
			tok, ok := d.number()
			if !ok {
				return badRequest("json: records[%d].value: want a number that fits a 32-bit float, got %s", k, d.kind())
			}
			// As encoding/json does: a float64, then checked to fit a float32.
			f, err := strconv.ParseFloat(string(tok), 64)
			if err != nil || math.Abs(f) > math.MaxFloat32 {
				return badRequest("json: records[%d].value: want a number that fits a 32-bit float, got number %s", k, tok)
			}
			r.Value = float32(f)
		default:
			d.skip()
		}
		d.space()
		if d.b[d.i] == '}' {
			d.i++
			return nil
		}
		d.i++ // ,
		d.space()
	}
}

// str reads the string at d.i and returns its contents, unescaped.
func (d *recordDecoder) str() []byte {
	start := d.i
	d.skip()
	raw := d.b[start+1 : d.i-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var s string
	json.Unmarshal(d.b[start:d.i], &s) // valid JSON: cannot fail
	return []byte(s)
}

// number returns the number at d.i, or false if the value there is not one.
func (d *recordDecoder) number() ([]byte, bool) {
	if c := d.b[d.i]; c != '-' && (c < '0' || c > '9') {
		return nil, false
	}
	start := d.i
	d.skip()
	return d.b[start:d.i], true
}

// kind names the JSON type of the value at d.i, as encoding/json does.
func (d *recordDecoder) kind() string {
	switch d.b[d.i] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	}
	return "number"
}

// skip moves d.i past the value at d.i.
func (d *recordDecoder) skip() {
	switch d.b[d.i] {
	case '"':
		for d.i++; d.b[d.i] != '"'; d.i++ {
			if d.b[d.i] == '\\' {
				d.i++
			}
		}
		d.i++
	case '{', '[':
		depth := 0
		for {
			switch d.b[d.i] {
			case '"':
				d.skip()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			d.i++
			if depth == 0 {
				return
			}
		}
	default: // a number, true, false or null
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return
			}
			d.i++
		}
	}
}
