// Package owner declares, in another package, functions that take
// ownership: one by directive, one by what its body does.
package owner

import "github.com/membridge/membridge/native"

// Keep stores b where the analyzer cannot see.
//
//membridge:owns b
func Keep(b *native.Buffer) { keep(b) } // want Keep:`owns\[0\]`

func keep(b *native.Buffer) {}

type Pool struct{ bufs []*native.Buffer }

// Put keeps b in the pool: the analyzer infers that it takes ownership.
func (p *Pool) Put(b *native.Buffer) { p.bufs = append(p.bufs, b) } // want Put:`owns\[0\]`

// Look borrows b.
func Look(b *native.Buffer) int { return len(b.Bytes()) }

// Close frees its second parameter, through a function that owns it.
func Close(n int, b *native.Buffer) { Keep(b) } // want Close:`owns\[1\]`
