// Package withmain runs leakfixture's scenarios under
// tracker.VerifyTestMain, to compare with the package without TestMain.
package withmain
