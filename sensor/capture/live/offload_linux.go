package live

import (
	"fmt"
	"log/slog"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offloads are the receive offloads that change what a capture sees.
type Offloads struct {
	GRO bool // generic receive offload: the stack merges segments before capture
	LRO bool // large receive offload: the NIC merges them
}

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// ifreqData is struct ifreq with the ifr_data pointer member.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

const ethFlagLRO = 1 << 15 // ETH_FLAG_LRO

// DetectOffloads asks the driver (SIOCETHTOOL) whether GRO and LRO are on.
func DetectOffloads(iface string) (Offloads, error) {
	var o Offloads
	if len(iface) >= unix.IFNAMSIZ {
		return o, fmt.Errorf("live: interface name %q too long", iface)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return o, fmt.Errorf("live: ethtool socket: %w", err)
	}
	defer unix.Close(fd)
	get := func(cmd uint32) (uint32, error) {
		v := ethtoolValue{cmd: cmd}
		var ifr ifreqData
		copy(ifr.name[:], iface)
		ifr.data = unsafe.Pointer(&v)
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(&v)
		if errno != 0 {
			return 0, errno
		}
		return v.data, nil
	}
	gro, err := get(unix.ETHTOOL_GGRO)
	if err != nil {
		return o, fmt.Errorf("live: ethtool GGRO on %s: %w", iface, err)
	}
	flags, err := get(unix.ETHTOOL_GFLAGS)
	if err != nil {
		return o, fmt.Errorf("live: ethtool GFLAGS on %s: %w", iface, err)
	}
	return Offloads{GRO: gro != 0, LRO: flags&ethFlagLRO != 0}, nil
}

// warnOffloads logs the offloads that merge packets before capture: packet
// counts drop and sizes grow, and a merged segment may hide a FIN or PSH edge.
func warnOffloads(log *slog.Logger, iface string) {
	o, err := DetectOffloads(iface)
	if err != nil {
		log.Debug("cannot read offload settings", "iface", iface, "err", err)
		return
	}
	if o.GRO || o.LRO {
		log.Warn("receive offload is on: the capture sees merged segments; turn it off on a tap port",
			"iface", iface, "gro", o.GRO, "lro", o.LRO, "fix", "ethtool -K "+iface+" gro off lro off")
	}
}
