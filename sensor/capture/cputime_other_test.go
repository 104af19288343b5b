//go:build !unix

package capture

func cpuTime() int64 { return 0 }
