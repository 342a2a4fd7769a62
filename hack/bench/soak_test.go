package main

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
go_memstats_heap_inuse_bytes 1.048576e+07
go_gc_duration_seconds{quantile="0"} 1e-05
process_resident_memory_bytes 3.145728e+07
`
	s, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if s != (Sample{Goroutines: 42, RSSMiB: 30, HeapMiB: 10}) {
		t.Errorf("parsed %+v", s)
	}
	if _, err := parseMetrics(strings.NewReader("go_goroutines 1\n")); err == nil {
		t.Error("a /metrics without the memory gauges: no error")
	}
}

func TestSoakVerdict(t *testing.T) {
	start := Sample{Goroutines: 50, RSSMiB: 40, HeapMiB: 10}
	for _, c := range []struct {
		end    Sample
		errors int64
		want   string
	}{
		{Sample{Goroutines: 60, RSSMiB: 48}, 0, "**met**"},
		{Sample{Goroutines: 61, RSSMiB: 40}, 0, "**not met**"}, // goroutines beyond 10% + 5
		{Sample{Goroutines: 50, RSSMiB: 49}, 0, "**not met**"}, // memory beyond 20%
		{Sample{Goroutines: 50, RSSMiB: 40}, 1, "**not met**"}, // an error
	} {
		md := soakMarkdown(Soak{Start: start, End: c.end, Errors: c.errors})
		if !strings.Contains(md, "): "+c.want+".") {
			t.Errorf("end %+v, %d errors: want %s in\n%s", c.end, c.errors, c.want, md)
		}
	}
}
