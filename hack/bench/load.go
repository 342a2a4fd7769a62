package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// request is one target's load: the address and the raw HTTP/1.1 request
// that every connection sends again and again.
type request struct {
	addr string
	raw  []byte
}

func newRequest(addr, path string, header map[string]string) request {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: appapi-bench\r\n", path, addr)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	return request{addr: addr, raw: b.Bytes()}
}

// result is one run of the load generator.
type result struct {
	Requests int64
	Errors   int64 // responses other than 200, and broken connections
	Elapsed  time.Duration
	lat      latencies
}

func (r result) rate() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// closedLoop keeps conns keep-alive connections busy for d, each sending its
// next request as soon as the previous answer is read: the target's maximum
// rate. The generator speaks HTTP/1.1 over raw connections, as wrk does,
// because net/http's client would cost more CPU than the floor it measures.
func closedLoop(req request, conns int, d time.Duration) result {
	return drive(req, conns, d, 0)
}

// openLoop sends rate requests per second for d, spread evenly over the
// connections, each connection on its own fixed schedule (as wrk2 does). A
// latency counts from when the request was due, not from when it was sent,
// so a stall of the server counts for every request it delayed rather than
// for one (no coordinated omission).
func openLoop(req request, conns int, d time.Duration, rate float64) result {
	return drive(req, conns, d, rate)
}

func drive(req request, conns int, d time.Duration, rate float64) result {
	start := time.Now()
	end := start.Add(d)
	var mu sync.Mutex
	var total result
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			var interval, offset time.Duration
			if rate > 0 {
				interval = time.Duration(float64(conns) / rate * float64(time.Second))
				offset = interval * time.Duration(c) / time.Duration(conns)
			}
			r := connLoop(req, start.Add(offset), end, interval)
			mu.Lock()
			total.Requests += r.Requests
			total.Errors += r.Errors
			total.lat = append(total.lat, r.lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.Elapsed = time.Since(start)
	return total
}

// connLoop sends requests on one connection until end; with an interval, the
// k-th is due at first+k·interval, otherwise it goes as soon as the previous
// answer is read. A broken connection is counted as an error and redialled.
func connLoop(req request, first, end time.Time, interval time.Duration) result {
	var r result
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	due := first
	for {
		if interval > 0 {
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
		}
		sent := time.Now()
		if !sent.Before(end) {
			return r
		}
		if interval == 0 {
			due = sent
		}
		if conn == nil {
			var err error
			if conn, err = net.Dial("tcp", req.addr); err != nil {
				r.Errors++
				time.Sleep(10 * time.Millisecond)
				continue
			}
			br = bufio.NewReaderSize(conn, 16<<10)
		}
		_ = conn.SetDeadline(end.Add(5 * time.Second))
		status, err := roundTrip(conn, br, req.raw)
		if err != nil {
			_ = conn.Close()
			conn = nil
			r.Errors++
		} else {
			r.Requests++
			if status != 200 {
				r.Errors++
			}
			r.lat = append(r.lat, time.Since(due))
		}
		due = due.Add(interval)
	}
}

var errResponse = errors.New("malformed response")

// roundTrip writes raw and reads one response: the status line, the headers
// (only Content-Length matters: every target answers with a length) and the
// body, which is discarded.
func roundTrip(conn net.Conn, br *bufio.Reader, raw []byte) (int, error) {
	if _, err := conn.Write(raw); err != nil {
		return 0, err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, errResponse
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errResponse
	}
	length := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return 0, errResponse
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("%w: no Content-Length (status %d)", errResponse, status)
	}
	if _, err := br.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}
