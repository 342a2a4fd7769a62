// Command bench measures the gateway's throughput and latency next to the
// baselines a user would compare it with, on loopback, in one run: a plain
// net/http server (the floor), nginx proxying to the floor, and the gateway
// in local mode with three endpoint shapes. It builds and starts every
// server itself, loads each with the same Go load generator, stops them, and
// writes its section of docs/benchmarks.md and bench/results.json.
//
// `bench floor --listen ADDR` runs the floor alone; the bench starts it that
// way so that it can be pinned to its own CPU like the other servers.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	root         string
	duration     time.Duration
	warmup       time.Duration
	connections  int
	docs, json   string
	rounds       int
	from         string
	soak         time.Duration
	scale        []int
	scaleProfile string
	// pprof, if set, is where the gateway's CPU profile during the first
	// closed-loop round of the token endpoint is written.
	pprof string
	// baseline, if set, is another checkout (main's, say) whose gateway is
	// loaded in the same rounds as this one's.
	baseline string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		fs := flag.NewFlagSet("floor", flag.ExitOnError)
		addr := fs.String("listen", "127.0.0.1:0", "address to serve on")
		_ = fs.Parse(os.Args[2:])
		log.Fatal(serveFloor(*addr))
	}
	var c config
	flag.StringVar(&c.root, "root", ".", "Root of the appapi checkout: the gateway is built from ./cmd/gateway there.")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "Length of each closed-loop and each open-loop run.")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "Unmeasured load before each target's closed-loop run.")
	flag.IntVar(&c.rounds, "rounds", 3, "Closed-loop runs per target, interleaved across targets; the median is reported.")
	flag.IntVar(&c.connections, "connections", 32, "Keep-alive connections of the load generator.")
	flag.StringVar(&c.docs, "docs", "docs/benchmarks.md", "Markdown file whose section between the bench markers is rewritten; empty for none.")
	flag.StringVar(&c.json, "json", "bench/results.json", "Results file; empty for none.")
	flag.DurationVar(&c.soak, "soak", 0, "Instead of the side-by-side runs: hold the gateway's token endpoint at half its maximum rate this long, and write the soak section and bench/soak.json.")
	flag.Func("scale", "Instead of the side-by-side runs: the scale table at these Environment sizes (comma-separated AppAPI counts, e.g. 10,1000,10000), in cluster mode with the control plane from bin/k8s; writes its section and bench/scale.json.", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return fmt.Errorf("%q is not a positive AppAPI count", f)
			}
			c.scale = append(c.scale, n)
		}
		return nil
	})
	flag.StringVar(&c.scaleProfile, "scale-profile", "", "With --scale: record CPU profiles of the manager and the gateway during the probes into this directory, and keep the logs.")
	flag.StringVar(&c.pprof, "pprof", "", "Write the gateway's CPU profile during the first closed-loop round of the bearer token endpoint to this file (the gateway then runs with --pprof).")
	flag.StringVar(&c.baseline, "baseline", "", "Also build the gateway of this checkout (e.g. `git archive main | tar -x -C /tmp/main`) and load its three endpoint shapes in the same interleaved rounds: a before/after in one machine state.")
	flag.StringVar(&c.from, "from", "", "Measure nothing: rewrite the report from this results file (after a change to the report's text).")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if c.from != "" {
		if err := rewrite(c); err != nil {
			log.Fatal(err)
		}
		return
	}
	if len(c.scale) > 0 {
		if err := runScale(c, commandLine()); err != nil {
			log.Fatal(err)
		}
		return
	}
	pinSelf()
	if err := run(c, commandLine()); err != nil {
		log.Fatal(err)
	}
}

// pinnedEnv marks the process that pinSelf has already re-executed.
const pinnedEnv = "APPAPI_BENCH_PINNED"

// pinSelf re-executes the bench on CPU 0 so that the load generator never
// competes with the servers, which run on CPU 1. A thread-level affinity
// call would not do: it pins one thread of the runtime, not the process.
// Go sizes GOMAXPROCS to the affinity mask, so the generator then runs on
// one P.
func pinSelf() {
	if os.Getenv(pinnedEnv) != "" || !canPin() {
		return
	}
	ts, _ := exec.LookPath("taskset")
	self, err := os.Executable()
	if err != nil {
		return
	}
	env := append(os.Environ(), pinnedEnv+"=1")
	err = syscall.Exec(ts, append([]string{"taskset", "-c", "0", self}, os.Args[1:]...), env)
	log.Printf("cannot pin the load generator to CPU 0 (%v); running unpinned", err)
}

// canPin says whether servers and load generator get a CPU each.
func canPin() bool {
	_, err := exec.LookPath("taskset")
	return err == nil && onlineCPUs() >= 2
}

// commandLine is how this run was invoked, for the report: BENCH_COMMAND is
// set by the Makefile to the make invocation that started it.
func commandLine() string {
	if m := os.Getenv("BENCH_COMMAND"); m != "" {
		return m
	}
	return "go run ./hack/bench " + strings.Join(os.Args[1:], " ")
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }
