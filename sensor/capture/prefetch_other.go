//go:build !amd64 && !arm64

package capture

// prefetch is a no-op where no hint instruction is wired up.
func prefetch(*byte, uintptr) {}
