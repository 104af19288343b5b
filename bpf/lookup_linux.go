package bpf

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapElemAttr is union bpf_attr for the BPF_MAP_*_ELEM commands.
type mapElemAttr struct {
	mapFD uint32
	_     uint32
	key   uint64
	value uint64
	flags uint64
}

// lookupAndDelete takes c.key's entry into c.scratch with one bpf(2) call.
// Not found is a plain false: no error value is built for the common case
// of a flow the filter never counted. The key and value are fields of c, on
// the heap, so the addresses handed to the kernel stay valid.
func (c *FlowCounters) lookupAndDelete() (bool, error) {
	attr := mapElemAttr{
		mapFD: uint32(c.m.FD()),
		key:   uint64(uintptr(unsafe.Pointer(&c.key))),
		value: uint64(uintptr(unsafe.Pointer(&c.scratch))),
	}
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(c)
	c.stats.Syscalls++
	switch errno {
	case 0:
		return true, nil
	case unix.ENOENT:
		return false, nil
	}
	return false, fmt.Errorf("bpf: taking flow counters of %s: %w", c.key, errno)
}
