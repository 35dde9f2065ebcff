// Package recycle holds the tests of device and pinned buffers as
// production makes them: no stacks and no goroutine attribution, so that
// Free gives the ledger's record back for reuse (tracker.Record.Recycle).
// The cuda package's own tests cannot do this: the test mode notes a
// goroutine on every record, and such records are never reused.
package recycle
