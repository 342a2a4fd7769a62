//go:build !unix

package upstream

import "net"

// closedByPeer cannot peek here: a request that cannot be sent twice may
// fail on a connection the upstream closed while it was idle.
func closedByPeer(net.Conn) bool { return false }
