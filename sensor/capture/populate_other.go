//go:build !linux

package capture

import "errors"

// populate needs MADV_POPULATE_READ, which only Linux has: a prefaulting
// mapping stops at once and the reader takes its page faults itself.
func populate([]byte) error { return errors.ErrUnsupported }
