//go:build !linux

package syslog

import "net"

// sendQueue is not available here: everything written counts as delivered
// once written (at-most-once for the bytes in flight when a receiver dies).
func sendQueue(net.Conn, bool) (uint64, bool) { return 0, true }

// socketError is not available here.
func socketError(net.Conn) error { return nil }

// peerClosed is not available here: a closed peer is noticed by the reader.
func peerClosed(net.Conn) bool { return false }

// bytesAcked is not available here.
func bytesAcked(net.Conn) (uint64, bool) { return 0, false }
