package main

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Target is one row of the report.
type Target struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Skipped     string  `json:"skipped,omitempty"`
	RPS         float64 `json:"requestsPerSecond"`
	P50         float64 `json:"p50Ms"`
	P99         float64 `json:"p99Ms"`
	P999        float64 `json:"p999Ms"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	// Rates of every closed-loop round; RPS is their median.
	RoundsRPS []float64 `json:"roundsRequestsPerSecond,omitempty"`
	// The open-loop run at half of RPS.
	HalfRate     float64 `json:"halfLoadRate"`
	HalfAchieved float64 `json:"halfLoadAchievedRate"`
	HalfP99      float64 `json:"halfLoadP99Ms"`
	HalfErrors   int64   `json:"halfLoadErrors"`
	// Ratios of RPS; 0 when the baseline was not measured.
	VsFloor float64 `json:"ratioToFloor"`
	VsNginx float64 `json:"ratioToNginx"`
}

// Results is bench/results.json, and what the report is written from.
type Results struct {
	Date        string `json:"date"`
	Command     string `json:"command"`
	CPU         string `json:"cpu"`
	CPUs        int    `json:"cpus"`
	Pinned      bool   `json:"pinned"`
	GoVersion   string `json:"goVersion"`
	Nginx       string `json:"nginxVersion,omitempty"`
	Connections int    `json:"connections"`
	Duration    string `json:"duration"`
	Rounds      int    `json:"rounds"`
	// The machine's 1-minute load average before and after the closed
	// loops: work of others sharing it shows here.
	LoadBefore string   `json:"loadAverageBefore"`
	LoadAfter  string   `json:"loadAverageAfter"`
	Targets    []Target `json:"targets"`
	Goals      []Goal   `json:"goals"`
}

const (
	floorName     = "floor"
	nginxName     = "nginx"
	transformName = "gateway: transform only"
	proxyName     = "gateway: http step + transform, no auth"
	tokenName     = "gateway: bearer token + http step + transform"
)

func run(c config, command string) error {
	dir, err := os.MkdirTemp("", "appapi-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	gwBin := filepath.Join(dir, "gateway")
	logf("building the gateway")
	build := exec.Command("go", "build", "-o", gwBin, "./cmd/gateway")
	build.Dir, build.Stdout, build.Stderr = c.root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/gateway: %w", err)
	}

	baseBin := ""
	if c.baseline != "" && c.soak == 0 {
		baseBin = filepath.Join(dir, "gateway-baseline")
		logf("building the baseline gateway from %s", c.baseline)
		build := exec.Command("go", "build", "-o", baseBin, "./cmd/gateway")
		build.Dir, build.Stdout, build.Stderr = c.baseline, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/gateway in %s: %w", c.baseline, err)
		}
	}

	res := Results{Date: time.Now().UTC().Format(time.RFC3339), Command: command, CPU: cpuModel(), CPUs: onlineCPUs(),
		Pinned: canPin(), GoVersion: runtime.Version(), Nginx: nginxVersion(), Connections: c.connections, Duration: c.duration.String(), Rounds: c.rounds}
	if !res.Pinned {
		logf("taskset or a second CPU is missing: servers and load generator share the CPUs")
	}

	load, err := startAll(dir, self, gwBin, c.pprof != "", baseBin)
	defer load.stop()
	if err != nil {
		return err
	}
	if c.soak > 0 {
		return runSoak(c, load, command)
	}
	res.LoadBefore = loadAverage()
	res.Targets = measureAll(c, load)
	res.LoadAfter = loadAverage()
	load.stop()

	ratios(res.Targets)
	res.Goals = goals(res.Targets)
	for _, t := range res.Targets {
		if t.Errors > 0 || t.HalfErrors > 0 {
			logf("%s: %d errors at full load, %d at half load", t.Name, t.Errors, t.HalfErrors)
		}
	}
	return write(c, res)
}

// measureAll loads each target in turn, rounds times over: the machine is
// shared, and a neighbour's burst of work in one target's run would
// otherwise skew that one ratio. Interleaving spreads such bursts over all
// targets, and the round of median rate is reported. Then each target gets
// an open-loop run at half its median rate, for its tail latency.
func measureAll(c config, f *fleet) []Target {
	loads := f.targets
	runs := make([][]result, len(loads))
	for round := range c.rounds {
		for i, l := range loads {
			if l.target.Skipped != "" {
				continue
			}
			logf("round %d/%d, %s: %s closed loop, %d connections", round+1, c.rounds, l.target.Name, c.duration, c.connections)
			if c.warmup > 0 {
				closedLoop(l.req, c.connections, c.warmup)
			}
			profiled := func() {}
			if c.pprof != "" && round == 0 && l.target.Name == tokenName {
				profiled = profileDuring(f.gatewayAdmin, c.duration, c.pprof)
			}
			runs[i] = append(runs[i], closedLoop(l.req, c.connections, c.duration))
			profiled()
		}
	}
	out := make([]Target, len(loads))
	for i, l := range loads {
		t := l.target
		if t.Skipped == "" {
			r := median(runs[i])
			for _, x := range runs[i] {
				t.RoundsRPS = append(t.RoundsRPS, math.Round(x.rate()))
			}
			t.Requests, t.Errors, t.RPS = r.Requests, r.Errors, r.rate()
			t.P50, t.P99, t.P999 = ms(r.lat.percentile(50)), ms(r.lat.percentile(99)), ms(r.lat.percentile(99.9))
			t.HalfRate = t.RPS / 2
			if t.HalfRate >= 1 {
				logf("%s: %s open loop at %.0f req/s", t.Name, c.duration, t.HalfRate)
				h := openLoop(l.req, c.connections, c.duration, t.HalfRate)
				t.HalfAchieved, t.HalfErrors, t.HalfP99 = h.rate(), h.Errors, ms(h.lat.percentile(99))
			}
		}
		out[i] = t
	}
	return out
}

// median returns the run of median rate (the lower one of an even count).
func median(runs []result) result {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b result) int { return cmp.Compare(a.rate(), b.rate()) })
	return s[(len(s)-1)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratios(ts []Target) {
	floor, nginx := find(ts, floorName), find(ts, nginxName)
	for i := range ts {
		if ts[i].Skipped != "" {
			continue
		}
		if floor != nil && floor.RPS > 0 {
			ts[i].VsFloor = ts[i].RPS / floor.RPS
		}
		if nginx != nil && nginx.Skipped == "" && nginx.RPS > 0 {
			ts[i].VsNginx = ts[i].RPS / nginx.RPS
		}
	}
}

func find(ts []Target, name string) *Target {
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i]
		}
	}
	return nil
}

// Goal is one throughput target of issue 9 and what this run says of it.
type Goal struct {
	Goal   string `json:"goal"`
	Figure string `json:"figure"`
	// Verdict is "met", "not met", "not measured" (a baseline is missing) or
	// "inconclusive" (a half-load run it compares fell behind its schedule,
	// so its p99 measures the load generator as much as the server).
	Verdict string `json:"verdict"`
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "not met"
}

// behind says whether t's open-loop run fell short of the rate it was due.
func behind(t *Target) bool { return t.HalfAchieved < 0.95*t.HalfRate }

func goals(ts []Target) []Goal {
	floor, nginx := find(ts, floorName), find(ts, nginxName)
	tok, tr := find(ts, tokenName), find(ts, transformName)
	const (
		rateGoal = "bearer token + http step + transform ≥ 0.5× nginx's req/s"
		tailGoal = "bearer token + http step + transform: p99 at half load ≤ nginx's + 1 ms"
	)
	var out []Goal
	if nginx.Skipped == "" {
		out = append(out, Goal{Goal: rateGoal,
			Figure:  fmt.Sprintf("%.2f× (%s vs %s req/s)", tok.VsNginx, num(tok.RPS), num(nginx.RPS)),
			Verdict: verdict(tok.VsNginx >= 0.5)})
		tail := Goal{Goal: tailGoal, Figure: fmt.Sprintf("%s vs %s + 1 ms", msCell(tok.HalfP99), msCell(nginx.HalfP99)),
			Verdict: verdict(tok.HalfP99 <= nginx.HalfP99+1)}
		if behind(tok) || behind(nginx) {
			tail.Verdict = "inconclusive"
		}
		out = append(out, tail)
	} else {
		out = append(out, Goal{Goal: rateGoal, Figure: "nginx not measured", Verdict: "not measured"},
			Goal{Goal: tailGoal, Figure: "nginx not measured", Verdict: "not measured"})
	}
	out = append(out, Goal{Goal: "transform only ≥ 0.6× the floor's req/s",
		Figure:  fmt.Sprintf("%.2f× (%s vs %s req/s)", tr.VsFloor, num(tr.RPS), num(floor.RPS)),
		Verdict: verdict(tr.VsFloor >= 0.6)})
	return out
}

// spread is the fastest closed-loop round of t divided by its slowest: near
// 1 on a quiet machine.
func spread(t Target) float64 {
	if len(t.RoundsRPS) == 0 || slices.Min(t.RoundsRPS) <= 0 {
		return 0
	}
	return slices.Max(t.RoundsRPS) / slices.Min(t.RoundsRPS)
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// onlineCPUs counts the machine's CPUs, not the ones this process may use:
// once pinned, runtime.NumCPU says 1.
func onlineCPUs() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if k, _, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "processor" {
			n++
		}
	}
	return max(n, 1)
}

// loadAverage is the first field of /proc/loadavg, or "" where there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
