//go:build unix

package capture

import "syscall"

// cpuTime is the process's user+system CPU time in nanoseconds. Benchmarks
// report it per frame beside wall time, which a shared machine inflates.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
