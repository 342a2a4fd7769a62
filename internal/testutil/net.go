package testutil

import (
	"net"
	"testing"
)

// UnusedAddr returns a loopback host:port that nobody listens on: a port
// the kernel just handed out and that was closed again, so connecting to it
// is refused.
func UnusedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
