package server

import "sync/atomic"

// budget is the memory that requests with bodies may cost at once, in
// bytes. Requests without bodies are never charged, so they keep being
// served while bodies are refused.
type budget struct {
	limit int64 // 0: unlimited
	used  atomic.Int64
}

// charge is what one request holds of a budget.
type charge struct {
	b    *budget
	held int64
}

// growTo raises the request's charge to n bytes, and reports false, holding
// what it held, when the budget has no room for that.
func (c *charge) growTo(n int64) bool {
	if n <= c.held {
		return true
	}
	if c.b.limit == 0 {
		c.held = n
		return true
	}
	for {
		used := c.b.used.Load()
		if used+n-c.held > c.b.limit {
			return false
		}
		if c.b.used.CompareAndSwap(used, used+n-c.held) {
			c.held = n
			return true
		}
	}
}

// release gives back everything the request held.
func (c *charge) release() {
	if c.b.limit != 0 {
		c.b.used.Add(-c.held)
	}
	c.held = 0
}
