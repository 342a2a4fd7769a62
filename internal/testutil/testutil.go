// Package testutil holds what several test suites share: waiting for a
// condition without a wall-clock assertion, and a buffer that a process or
// logger writes while a test reads it.
package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Eventually polls check until it returns nil, and returns how long that
// took, for the test to log. It fails the test after timeout, which callers
// make generous: machines that run tests are shared and noisy, and speed is
// measured by benchmarks, not asserted here.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < timeout {
		if err = check(); err == nil {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %s: %v", what, timeout, err)
	return 0
}

// SyncBuffer is a bytes.Buffer safe to write from one goroutine while
// another reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
