package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var l latencies
	for i := 1000; i >= 1; i-- { // unsorted on purpose
		l = append(l, time.Duration(i)*time.Microsecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{
		{0, 1 * time.Microsecond},
		{50, 500 * time.Microsecond},
		{99, 990 * time.Microsecond},
		{99.9, 999 * time.Microsecond},
		{100, 1000 * time.Microsecond},
	} {
		if got := l.percentile(c.p); got != c.want {
			t.Errorf("p%v of 1..1000 µs = %v, want %v", c.p, got, c.want)
		}
	}
	if got := (latencies{}).percentile(99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
	if got := (latencies{7}).percentile(99.9); got != 7 {
		t.Errorf("p99.9 of one sample = %v, want it", got)
	}
}

func TestMedian(t *testing.T) {
	r := func(n int64) result { return result{Requests: n, Elapsed: time.Second} }
	if got := median([]result{r(30), r(10), r(20)}); got.Requests != 20 {
		t.Errorf("median of 30, 10, 20 req/s = %d", got.Requests)
	}
	if got := median([]result{r(30), r(10)}); got.Requests != 10 {
		t.Errorf("median of 30, 10 req/s = %d, want the lower", got.Requests)
	}
}
