package capture

import "golang.org/x/sys/unix"

// populate maps b's pages into the process's page tables, reading them in
// from the file where the page cache lacks them (MADV_POPULATE_READ, Linux
// 5.14). It fails, without a signal, on pages past the end of a file that
// shrank, and with EINVAL on older kernels.
func populate(b []byte) error { return unix.Madvise(b, unix.MADV_POPULATE_READ) }
