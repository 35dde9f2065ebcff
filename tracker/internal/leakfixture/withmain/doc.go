// Package withmain runs leakfixture's scenarios under
// leaktest.VerifyTestMain, to compare with the package without TestMain.
package withmain
