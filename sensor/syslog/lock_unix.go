//go:build unix

package syslog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive lock on dir so that two sensor processes never
// append to, replay or delete the same spool. The lock goes with the
// process, so a crash leaves nothing to clean up.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("syslog: spool lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("syslog: spool %s is in use by another launchtap process", dir)
		}
		return nil, fmt.Errorf("syslog: spool lock: %w", err)
	}
	return func() { f.Close() }, nil
}
