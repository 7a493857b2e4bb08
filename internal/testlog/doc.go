// Package testlog holds what tests across streamgate share for reading logs: a Buffer that a
// slog handler writes to from the goroutines under test while the test reads it.
//
// It is for _test.go files only. It imports nothing from streamgate, so any package's tests may
// use it without bending that package's import rules.
package testlog
