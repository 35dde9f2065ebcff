package native

import (
	"errors"

	"github.com/membridge/membridge/tracker"
)

// reserveRelieved is tracker.Reserve with one retry after
// tracker.RelieveShortage when a limit refuses the bytes: the caches give
// back what they hold under the limited kind or tag, and the garbage
// collector runs the cleanups of dropped handles. skip counts the frames
// from reserveRelieved up to the user's code. Only the refused path pays
// for any of this. When the relief frees nothing there is no retry, so the
// limit counts one refusal.
func reserveRelieved(k tracker.Kind, tag string, n int64, skip int) (*tracker.Record, error) {
	rec, err := tracker.Reserve(k, -1, tag, n, skip)
	if err == nil || !errors.Is(err, tracker.ErrLimit) {
		return rec, err
	}
	if tracker.Relieve(tracker.ShortageOf(err, n)) == 0 {
		return nil, err // nothing was given back: a retry would fail alike
	}
	rec, err = tracker.Reserve(k, -1, tag, n, skip)
	tracker.CountRetry(err == nil)
	return rec, err
}
