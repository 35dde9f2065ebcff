package memprofile

// SetAfterBase sets what a delta profile runs once it has its first profile.
func SetAfterBase(fn func()) (restore func()) {
	old := afterBase
	afterBase = fn
	return func() { afterBase = old }
}
