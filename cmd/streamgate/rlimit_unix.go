//go:build unix

package main

import "syscall"

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit and returns the limit in force.
// The Go runtime does this too on Linux since Go 1.19; doing it here keeps the promise on every
// Unix and gives the value to log. Every client connection costs a descriptor (issue 10).
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		want := lim
		want.Cur = want.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return uint64(lim.Cur), err
		}
		lim = want
	}
	return uint64(lim.Cur), nil
}
