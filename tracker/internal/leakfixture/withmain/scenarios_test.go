package withmain_test

import (
	"testing"

	"github.com/membridge/membridge/tracker/internal/leakfixture"
)

// The scenarios, under leaktest.VerifyTestMain.
// They run only in a child process (see leakfixture.Run).

func TestFixtureDropped(t *testing.T) { leakfixture.Child(t); leakfixture.Dropped(t) }
func TestFixtureDroppedUnchecked(t *testing.T) {
	leakfixture.Child(t)
	leakfixture.DroppedUnchecked(t)
}
func TestFixtureKept(t *testing.T)            { leakfixture.Child(t); leakfixture.Kept(t) }
func TestFixtureCleanAfterLeaks(t *testing.T) { leakfixture.Child(t); leakfixture.Clean(t) }
func TestFixtureIgnoredTag(t *testing.T)      { leakfixture.Child(t); leakfixture.IgnoredTag(t) }
func TestFixtureIgnoredTagKept(t *testing.T)  { leakfixture.Child(t); leakfixture.IgnoredTagKept(t) }
func TestFixtureParallelDropper(t *testing.T) { leakfixture.Child(t); leakfixture.ParallelDropper(t) }
func TestFixtureParallelKeeper(t *testing.T)  { leakfixture.Child(t); leakfixture.ParallelKeeper(t) }
func TestFixtureParallelClean(t *testing.T)   { leakfixture.Child(t); leakfixture.ParallelClean(t) }
func TestFixtureParentDefer(t *testing.T)     { leakfixture.Child(t); leakfixture.ParentDefer(t) }
func TestFixtureParentCleanup(t *testing.T)   { leakfixture.Child(t); leakfixture.ParentCleanup(t) }
func TestFixtureGrandchild(t *testing.T)      { leakfixture.Child(t); leakfixture.Grandchild(t) }
func TestFixtureOutliveStart(t *testing.T)    { leakfixture.Child(t); leakfixture.OutliveStart(t) }
func TestFixtureOutliveLater(t *testing.T)    { leakfixture.Child(t); leakfixture.OutliveLater(t) }
func TestFixtureMode(t *testing.T)            { leakfixture.Child(t); leakfixture.Mode(t) }

func BenchmarkFixtureMode(b *testing.B) {
	leakfixture.Child(b)
	leakfixture.Mode(b)
	for b.Loop() {
	}
}
