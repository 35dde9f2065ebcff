// Package owner declares, in another package, functions that take
// ownership: one by directive, one by what its body does.
package owner

import "github.com/membridge/membridge/native"

// Keep stores b where the analyzer cannot see.
//
//membridge:owns b
func Keep(b *native.Buffer) { keep(b) }

func keep(b *native.Buffer) {}

type Pool struct{ bufs []*native.Buffer }

// Put keeps b in the pool: the analyzer infers that it takes ownership.
func (p *Pool) Put(b *native.Buffer) { p.bufs = append(p.bufs, b) }

// Look borrows b.
func Look(b *native.Buffer) int { return len(b.Bytes()) }
