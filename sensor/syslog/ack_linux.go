package syslog

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendQueue returns the bytes written to a stream socket that the peer has
// not acknowledged yet (SIOCOUTQ: unsent + unacked for TCP, unread for unix
// sockets). For TCP it reports false unless the connection is ESTABLISHED
// (or CLOSE_WAIT, after the peer's FIN, when closed is true): after a reset
// the kernel empties the queue, which would look like "all acknowledged".
// The state is read after the queue length, and a reset only moves the
// state on, so a good state vouches for the length.
func sendQueue(nc net.Conn, closed bool) (uint64, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	_, isTCP := nc.(*net.TCPConn)
	var outq int
	good := false
	cerr := rc.Control(func(fd uintptr) {
		n, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		if err != nil || n < 0 {
			return
		}
		if isTCP {
			info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil || !(info.State == tcpEstablished || closed && info.State == tcpCloseWait) {
				return
			}
		}
		outq, good = n, true
	})
	if cerr != nil || !good {
		return 0, false
	}
	return uint64(outq), true
}

// peerClosed reports whether the peer of a TCP connection has sent its FIN
// (state CLOSE_WAIT). Writing then would draw a reset that empties the send
// queue, and with it the proof of what the receiver read before it left.
func peerClosed(nc net.Conn) bool {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		closed = err == nil && info.State == tcpCloseWait
	})
	return closed
}

// bytesAcked returns the data bytes the peer's TCP has acknowledged on a TCP
// connection (TCP_INFO tcpi_bytes_acked, less the SYN). Unlike the send
// queue it survives a reset, so it still tells, after a write drew one, what
// a receiver that had closed cleanly acknowledged before its FIN.
func bytesAcked(nc net.Conn) (uint64, bool) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return 0, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var acked uint64
	good := false
	rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err == nil && info.Bytes_acked >= 1 {
			acked, good = info.Bytes_acked-1, true
		}
	})
	return acked, good
}

// TCP states from include/net/tcp_states.h.
const (
	tcpEstablished = 1
	tcpCloseWait   = 8
)

// socketError returns and clears the socket's pending error (SO_ERROR), e.g.
// ECONNREFUSED from an ICMP port unreachable on a connected UDP socket.
func socketError(nc net.Conn) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var soErr int
	rc.Control(func(fd uintptr) {
		soErr, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
	})
	if soErr != 0 {
		return syscall.Errno(soErr)
	}
	return nil
}
