//go:build !linux

package bpf

import (
	"errors"
	"fmt"
)

// lookupAndDelete needs the bpf(2) system call, which only Linux has; a
// FlowCounters cannot be built elsewhere (loading the filter fails first),
// so this is for the build's sake.
func (c *FlowCounters) lookupAndDelete() (bool, error) {
	return false, fmt.Errorf("bpf: taking flow counters of %s: %w", c.key, errors.ErrUnsupported)
}
