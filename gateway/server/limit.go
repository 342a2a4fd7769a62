package server

import (
	"net/http"
	"time"
)

// Limits bound what callers can hold of the gateway: pipeline slots, body
// readers, memory and connections. docs/gateway.md lists them with their
// flags.
type Limits struct {
	// MaxInFlight is how many pipelines run at once. A request takes a slot
	// only once its body is read and paid for, so callers that send slowly
	// cannot keep pipelines from running.
	MaxInFlight int
	// MaxBodyReaders is how many request bodies are read at once; it bounds
	// the buffers of slow senders when no MemoryLimit is set.
	MaxBodyReaders int
	// BodyIdleTimeout is the longest a request body may pause between two
	// reads: a body that trickles in is refused with 408 long before the
	// request timeout.
	BodyIdleTimeout time.Duration
	// WriteGrace is how long past the request timeout an answer may take to
	// be written, so that a caller that does not read cannot hold its
	// connection, and the answer's memory, for longer.
	WriteGrace time.Duration
	// MemoryLimit is the budget, in bytes, of what requests with bodies may
	// cost at once (see cost.go); 0 is no budget.
	MemoryLimit int64
}

// DefaultLimits are the flags' defaults.
func DefaultLimits() Limits {
	return Limits{MaxInFlight: 1024, MaxBodyReaders: 4096, BodyIdleTimeout: 5 * time.Second, WriteGrace: 10 * time.Second}
}

// slots is a counting semaphore that never makes a request wait: a gateway
// that sheds load at once stays up for the requests it does take.
type slots chan struct{}

func (s slots) tryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s slots) release() { <-s }

// overloaded answers 503 with Retry-After for a request the gateway has no
// room for, and counts it.
func (g *Gateway) overloaded(x *exchange, detail string) {
	g.metrics.Shed()
	x.w.Header().Set("Retry-After", "1")
	g.fail(x, http.StatusServiceUnavailable, "Overloaded", detail, nil)
}
