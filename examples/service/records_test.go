package main

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/batch"
)

// decodeRecords reads what encoding/json reads: the same records, and an
// error for the same inputs, on arrays made of every kind of element and
// member a client may send.
func TestDecodeRecordsAgreesWithEncodingJSON(t *testing.T) {
	members := []string{
		`"id":1`, `"id":18446744073709551615`, `"id":18446744073709551616`, `"id":-1`, `"id":1.5`, `"id":1e3`,
		`"id":null`, `"id":"7"`, `"id":true`, `"id":{}`, `"id":[1]`, `"ID":9`, `"Id":10`, `"i\u0064":11`,
		`"value":2.5`, `"value":-0`, `"value":1e38`, `"value":3.5e38`, `"value":-3.5e38`, `"value":1e-50`,
		`"value":1e400`, `"value":0.1`, `"value":16777217`, `"value":null`, `"value":"x"`, `"VALUE":4`,
		`"flags":3`, `"other":{"id":5,"s":"}]\"{"}`, `"other":[[],{},"]"]`, `"":0`, `"value" : 	7 `,
	}
	elements := func(rng *rand.Rand) string {
		switch rng.IntN(12) {
		case 0:
			return "null"
		case 1:
			return []string{`1`, `"s"`, `[]`, `true`}[rng.IntN(4)]
		case 2:
			return "{}"
		}
		var ms []string
		for range 1 + rng.IntN(3) {
			ms = append(ms, members[rng.IntN(len(members))])
		}
		return "{ " + strings.Join(ms, " ,") + "}"
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		var es []string
		for range rng.IntN(5) {
			es = append(es, elements(rng))
		}
		in := "[" + strings.Join(es, ",\n ") + " ]"
		var want []struct {
			ID    uint64
			Value float32
		}
		wantErr := json.Unmarshal([]byte(in), &want)
		require.Equal(t, len(es), countElements([]byte(in)), in)
		got := make([]batch.Record, len(es))
		err := decodeRecords([]byte(in), got)
		if wantErr != nil {
			assert.Error(t, err, "%d: %s (encoding/json: %v)", i, in, wantErr)
			continue
		}
		require.NoError(t, err, "%d: %s", i, in)
		for k := range want {
			assert.Equal(t, want[k].ID, got[k].ID, "%d: %s [%d]", i, in, k)
			assert.Equal(t, want[k].Value, got[k].Value, "%d: %s [%d]", i, in, k)
		}
	}
}

// A maximal body of empty records decodes in well under a second.
func BenchmarkDecodeRecords(b *testing.B) {
	body := []byte(`[` + strings.Repeat(`{"id":123456789,"value":57.25},`, 1<<15) + `{}]`)
	recs := make([]batch.Record, countElements(body))
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := decodeRecords(body, recs); err != nil {
			b.Fatal(err)
		}
	}
}
