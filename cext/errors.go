package cext

import "errors"

// ErrForeign means the pointer is not a live block allocated through
// membridge.h (a foreign pointer, a freed block, or a pointer into the
// middle of a block).
var ErrForeign = errors.New("not a membridge block")

// ErrGoOwned means a Go handle owns the block; C may not take it back or free it.
var ErrGoOwned = errors.New("block owned by a Go handle")

// ErrCOwned means C owns the block; a Go handle may not free it as its own.
var ErrCOwned = errors.New("block owned by C")
