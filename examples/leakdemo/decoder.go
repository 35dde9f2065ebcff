package main

import (
	"encoding/binary"
	"fmt"

	"github.com/membridge/membridge/native"
)

// decodeFrames turns length-prefixed frames into one buffer of payloads.
// It has the bug this demo is about: the scratch buffer it takes for each
// frame is never freed. Go's garbage collector does not see C memory, so
// nothing reclaims it; membridge's ledger does see it.
func decodeFrames(frames [][]byte) (*native.Buffer, error) {
	return decode(frames, false)
}

// decodeFramesFixed is the same code with the scratch buffer freed.
func decodeFramesFixed(frames [][]byte) (*native.Buffer, error) {
	return decode(frames, true)
}

func decode(frames [][]byte, freeScratch bool) (*native.Buffer, error) {
	total := 0
	for _, f := range frames {
		if len(f) < 4 {
			return nil, fmt.Errorf("leakdemo: frame of %d bytes has no length prefix", len(f))
		}
		total += int(binary.LittleEndian.Uint32(f))
	}
	out, err := native.Alloc("decoded", total)
	if err != nil {
		return nil, err
	}
	at := 0
	for _, f := range frames {
		n := int(binary.LittleEndian.Uint32(f))
		//membridge:ignore leak the demo's leak: without freeScratch the scratch buffer is dropped, for the leak report and the safety net to catch
		scratch, err := native.Alloc("scratch", n)
		if err != nil {
			out.Free()
			return nil, err
		}
		copy(scratch.Bytes(), f[4:])
		at += copy(out.Bytes()[at:], scratch.Bytes())
		if freeScratch {
			scratch.Free()
		}
	}
	return out, nil
}

func frame(payload string) []byte {
	f := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
	return append(f, payload...)
}
