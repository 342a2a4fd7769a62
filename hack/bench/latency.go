package main

import (
	"math"
	"slices"
	"time"
)

// latencies holds every sample of a run. A run at the rates this machine
// reaches keeps at most a few million samples, a few tens of MB: sorting them
// gives exact percentiles, where a bucketed histogram would round them.
type latencies []time.Duration

// percentile returns the sample at rank ceil(p/100·n) of the sorted samples
// (the nearest-rank definition): p99 is a value that 99% of the samples do not
// exceed. It sorts l in place, and returns 0 for no samples.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	if !slices.IsSorted(l) {
		slices.Sort(l)
	}
	// The epsilon keeps 99.9% of 1000 samples at rank 999 when the float
	// product lands a hair above 999.
	rank := int(math.Ceil(p*float64(len(l))/100 - 1e-9))
	return l[min(max(rank, 1), len(l))-1]
}
