package server

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// LogWriter buffers the gateway's log lines, the access log's one per
// request among them, so that writing one is a copy, not a system call. It
// flushes when its buffer fills, at least every interval, and on Close.
// Each Write stays whole: slog hands a handler's record over in one Write.
type LogWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// logBufferSize holds a few hundred access log lines.
const logBufferSize = 64 << 10

// NewLogWriter buffers w, flushing at least every interval. Close it to
// write what is left.
func NewLogWriter(w io.Writer, interval time.Duration) *LogWriter {
	l := &LogWriter{buf: bufio.NewWriterSize(w, logBufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go l.flushEvery(interval)
	return l
}

func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Flush writes what is buffered.
func (l *LogWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Flush()
}

// Close stops the periodic flush and writes what is buffered. Lines
// written after Close are buffered and not written.
func (l *LogWriter) Close() error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	return l.Flush()
}

func (l *LogWriter) flushEvery(interval time.Duration) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			if l.buf.Buffered() > 0 {
				_ = l.buf.Flush()
			}
			l.mu.Unlock()
		}
	}
}
