//go:build unix

package upstream

import (
	"errors"
	"net"
	"syscall"
)

// closedByPeer says whether the upstream has closed an idle connection
// (or sent something unasked, which makes it as unusable), without
// waiting: one non-blocking peek. net/http learns the same from the
// reader goroutine it keeps on every connection; the fast side asks only
// before a request that cannot be sent twice.
func closedByPeer(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing to read, the connection is idle and open.
		// Anything else (the end of the stream, a reset, or bytes nobody
		// asked for) makes the connection unusable.
		closed = !errors.Is(rerr, syscall.EAGAIN) || n > 0
		return true
	})
	return closed || err != nil
}
