package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/membridge/membridge/native"
)

// firstBodyStep is the most of the request budget a body takes before any
// of it has arrived; the buffer then doubles as the body fills it, so a
// client holds about as much of the budget as it has sent, never the
// length it declared.
const firstBodyStep = 64 << 10

// A reqBody is a request body in native memory under the request budget.
type reqBody struct {
	buf *native.Buffer // nil for an empty body
	n   int            // bytes of buf the body filled
}

func (b *reqBody) bytes() []byte {
	if b.buf == nil {
		return nil
	}
	return b.buf.Bytes()[:b.n]
}

// free gives the body's memory back; it may be called more than once.
func (b *reqBody) free() {
	if b.buf != nil {
		b.buf.Free()
		b.buf = nil
	}
}

// readBody reads r's body into native memory as it arrives, growing the
// buffer (and so the reservation under the request budget) in steps. The
// body must keep up MinBodyRate after BodyGrace and end within BodyTimeout
// (errTooSlow), and be at most MaxBody bytes (errTooLarge). A malformed
// body (a bad chunk, a connection closed early) is the client's error.
func (s *service) readBody(w http.ResponseWriter, r *http.Request) (*reqBody, error) {
	limit := s.cfg.MaxBody
	if r.ContentLength > limit {
		return nil, fmt.Errorf("service: declared body of %d bytes, over %d: %w", r.ContentLength, limit, errTooLarge)
	}
	if r.ContentLength >= 0 {
		limit = r.ContentLength
	}
	rc := http.NewResponseController(w)
	in := &pacedReader{r: r.Body, rc: rc, start: time.Now(), grace: s.cfg.BodyGrace, rate: s.cfg.MinBodyRate}
	in.end = in.start.Add(s.cfg.BodyTimeout)
	// After the body, the connection has no read deadline until the server
	// waits for the next request (IdleTimeout).
	defer rc.SetReadDeadline(time.Time{})

	b := &reqBody{}
	for {
		if b.buf == nil || b.n == b.buf.Len() {
			if int64(b.n) == limit {
				if r.ContentLength >= 0 {
					return b, nil // all of the declared length
				}
				// The buffer is at the limit: one more byte is too many.
				var one [1]byte
				if n, err := io.ReadFull(in, one[:]); n > 0 {
					b.free()
					return nil, fmt.Errorf("service: chunked body over %d bytes: %w", limit, errTooLarge)
				} else if err != io.EOF {
					b.free()
					return nil, s.bodyError(err, b.n)
				}
				return b, nil
			}
			if err := s.growBody(r, b, int(min(limit, max(firstBodyStep, 2*int64(b.n))))); err != nil {
				b.free()
				return nil, err
			}
		}
		n, err := in.Read(b.buf.Bytes()[b.n:])
		b.n += n
		if err == io.EOF {
			if b.n == 0 {
				b.free()
			}
			return b, nil
		}
		if err != nil {
			b.free()
			return nil, s.bodyError(err, b.n)
		}
	}
}

// growBody moves the body into a buffer of size bytes.
func (s *service) growBody(r *http.Request, b *reqBody, size int) error {
	wait, cancel := s.waitBudget(r.Context())
	defer cancel()
	nb, err := native.AllocContext(wait, tagRequest, size)
	if err != nil {
		return fmt.Errorf("service: body buffer of %d bytes (%d read): %w", size, b.n, err)
	}
	if b.buf != nil {
		copy(nb.Bytes(), b.buf.Bytes()[:b.n])
		b.buf.Free()
	}
	b.buf = nb
	return nil
}

// bodyError classifies an error reading the body after got bytes.
func (s *service) bodyError(err error, got int) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("service: body after %d bytes: %w", got, errTooSlow)
	case errors.As(err, &tooBig):
		return fmt.Errorf("service: body over %d bytes: %w", tooBig.Limit, errTooLarge)
	}
	// A bad chunk, a length the body did not reach, a reset: the client
	// sent something that is not a whole HTTP body.
	return fmt.Errorf("service: body after %d bytes: %w (%v)", got, badRequest("the body is malformed or ends before its length"), err)
}

// A pacedReader reads a request body under a read deadline that moves
// with the bytes received: the body may start after grace and must then
// arrive at rate bytes a second or more, and end by end.
type pacedReader struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	end   time.Time
	grace time.Duration
	rate  int64
	got   int64
}

func (p *pacedReader) Read(b []byte) (int, error) {
	deadline := p.end
	if p.rate > 0 {
		due := p.start.Add(p.grace + time.Duration(float64(p.got)/float64(p.rate)*float64(time.Second)))
		if due.Before(deadline) {
			deadline = due
		}
	}
	if err := p.rc.SetReadDeadline(deadline); err != nil {
		return 0, fmt.Errorf("service: read deadline: %w", err)
	}
	n, err := p.r.Read(b)
	p.got += int64(n)
	return n, err
}
