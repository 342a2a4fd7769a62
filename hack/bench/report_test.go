package main

import (
	"strings"
	"testing"
)

func TestSplice(t *testing.T) {
	doc := "# Benchmarks\n\nBy hand.\n\n" + beginMarker + "\nold\n" + endMarker + "\n\nAlso by hand.\n"
	got, err := spliceBetween([]byte(doc), "new\n", beginMarker, endMarker)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\nBy hand.\n\n" + beginMarker + "\nnew\n" + endMarker + "\n\nAlso by hand.\n"
	if string(got) != want {
		t.Errorf("splice:\n%s\nwant:\n%s", got, want)
	}
	// Again: the section is replaced, not appended to.
	again, _ := spliceBetween(got, "new\n", beginMarker, endMarker)
	if string(again) != want {
		t.Errorf("splice is not idempotent:\n%s", again)
	}

	got, err = spliceBetween([]byte("# Benchmarks\n"), "new\n", beginMarker, endMarker)
	if err != nil || string(got) != "# Benchmarks\n\n"+beginMarker+"\nnew\n"+endMarker+"\n" {
		t.Errorf("splice into a file without markers = %q, %v", got, err)
	}
	if _, err := spliceBetween([]byte(endMarker+"\n"+beginMarker), "x", beginMarker, endMarker); err == nil {
		t.Error("markers out of order: no error")
	}
}

func TestMarkdown(t *testing.T) {
	ts := []Target{
		{Name: floorName, RPS: 40000, HalfRate: 20000, HalfAchieved: 20000, HalfP99: 0.5, RoundsRPS: []float64{40000}},
		{Name: nginxName, Skipped: "not installed: `apt-get update && apt-get install -y nginx`"},
		{Name: transformName, RPS: 30000, HalfRate: 15000, HalfAchieved: 10000, HalfP99: 2, RoundsRPS: []float64{30000, 15000}},
		{Name: tokenName, RPS: 5000, HalfRate: 2500, HalfAchieved: 2500, HalfP99: 3, RoundsRPS: []float64{5000}},
	}
	ratios(ts)
	res := Results{Command: "make bench", CPUs: 2, CPU: "Test CPU", GoVersion: "go1.26.8", Pinned: true,
		Connections: 32, Duration: "10s", Rounds: 1, Targets: ts, Goals: goals(ts)}
	md := markdown(res)
	for _, want := range []string{
		"`make bench`",
		"2 × Test CPU; Go 1.26.8; nginx not installed;",
		"| floor:  | 40,000 |",
		"| nginx:  | skipped: not installed: `apt-get update && apt-get install -y nginx` |",
		"| 0.75 | – |", // transform only: ÷ floor, no nginx
		"| transform only ≥ 0.6× the floor's req/s | 0.75× (30,000 vs 40,000 req/s) | **met** |",
		"| bearer token + http step + transform ≥ 0.5× nginx's req/s | nginx not measured | **not measured** |",
		"**The rounds disagree** (fastest ÷ slowest: gateway: transform only 2.0×)",
		"**gateway: transform only: the half-load run reached 10,000 of the 15,000 req/s due**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "**floor: the half-load run") {
		t.Errorf("floor reached its half-load rate but is reported behind:\n%s", md)
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999.4: "999", 1000: "1,000", 51589.4: "51,589", 1234567: "1,234,567"} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestTailGoalInconclusiveWhenBehind(t *testing.T) {
	ts := []Target{
		{Name: floorName, RPS: 40000},
		{Name: nginxName, RPS: 20000, HalfRate: 10000, HalfAchieved: 6000, HalfP99: 900},
		{Name: transformName, RPS: 30000},
		{Name: tokenName, RPS: 12000, HalfRate: 6000, HalfAchieved: 6000, HalfP99: 3},
	}
	ratios(ts)
	g := goals(ts)
	if g[0].Verdict != "met" || g[1].Verdict != "inconclusive" || g[2].Verdict != "met" {
		t.Errorf("verdicts: %+v", g)
	}
}
