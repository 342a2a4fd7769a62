package openapi

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/gateway/local"
)

// redoclyWarnings are the warnings of Redocly's recommended ruleset that the
// documents may have, and why. Any other warning, and any error, fails.
var redoclyWarnings = map[string]string{
	"info-license":           "the document describes the user's App APIs, whose license the gateway does not know",
	"operation-2xx-response": "a redirect answers 302 and nothing else (checked below)",
	"no-server-example.com":  "local mode's server is localhost",
}

// TestRedoclyLint lints documents of the examples and of testSnapshot with
// Redocly CLI's recommended ruleset. It runs when REDOCLY names the redocly
// command, as `make lint-openapi` (part of `make verify`) does after
// installing the pinned version of hack/redocly.
func TestRedoclyLint(t *testing.T) {
	redocly := os.Getenv("REDOCLY")
	if redocly == "" {
		t.Skip("REDOCLY is not set; make lint-openapi runs this test")
	}
	dir := t.TempDir()
	docs := map[string][]byte{}
	write := func(name string, doc []byte) {
		docs[name] = doc
		if err := os.WriteFile(filepath.Join(dir, name), doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("test.json", withServer(t, build(t, testSnapshot(), ""), Server{URL: ServiceURL("shop", "prod"), Description: "The Service."}))
	// The examples as local mode serves them, their three Environments with
	// the three kinds of server.
	for env, srv := range map[string]Server{
		"demo": {URL: "http://localhost:8080", Description: "Local mode."},
		"dev":  {URL: ServiceURL("default", "dev"), Description: "The Service."},
		"prod": {URL: "https://api.shop.test", Description: "Behind an ingress."},
	} {
		l := &local.Loader{Dir: "../../examples", StateDir: t.TempDir(), Environment: env, Out: io.Discard}
		res, err := l.Load()
		if err != nil {
			t.Fatalf("loading the examples' Environment %s: %v", env, err)
		}
		if len(res.Snapshot.Routes) == 0 {
			t.Fatalf("the examples' Environment %s has no routes; warnings: %v", env, res.Warnings)
		}
		write(env+".json", withServer(t, build(t, res.Snapshot, ""), srv))
	}

	args := []string{"lint", "--extends", "recommended", "--format", "json", "--max-problems", "1000"}
	args = append(args, slices.Sorted(maps.Keys(docs))...)
	cmd := exec.Command(redocly, args...)
	// No redocly.yaml from around the checkout, no telemetry, no update check.
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run() // fails when there are errors; the report says which
	// One report per document.
	errorsReported := 0
	dec := json.NewDecoder(&stdout)
	for reports := 0; ; reports++ {
		var report redoclyReport
		if err := dec.Decode(&report); err == io.EOF && reports == len(docs) {
			break
		} else if err != nil {
			t.Fatalf("redocly %s: %v, and its output is not %d reports: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), runErr, len(docs), err, stdout.Bytes(), stderr.Bytes())
		}
		errorsReported += report.Totals.Errors
		t.Logf("Redocly CLI %s: %d errors, %d warnings", report.Version, report.Totals.Errors, report.Totals.Warnings)
		for _, p := range report.Problems {
			where := ""
			if len(p.Location) > 0 {
				where = p.Location[0].Source.Ref + " " + p.Location[0].Pointer
			}
			if _, ok := redoclyWarnings[p.RuleID]; !ok || p.Severity != "warn" {
				t.Errorf("%s: %s %s: %s", where, p.Severity, p.RuleID, p.Message)
				continue
			}
			if p.RuleID == "operation-2xx-response" && !redirectOnly(t, docs[p.Location[0].Source.Ref], p.Location[0].Pointer) {
				t.Errorf("%s: %s, and it is not a redirect", where, p.Message)
			}
		}
	}
	if runErr != nil && errorsReported == 0 {
		t.Errorf("redocly failed without errors in its report: %v\n%s", runErr, stderr.Bytes())
	}
}

// redoclyReport is what redocly lint --format json writes for each document.
type redoclyReport struct {
	Totals struct {
		Errors   int `json:"errors"`
		Warnings int `json:"warnings"`
	} `json:"totals"`
	Version  string `json:"version"`
	Problems []struct {
		RuleID   string `json:"ruleId"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
		Location []struct {
			Source struct {
				Ref string `json:"ref"`
			} `json:"source"`
			Pointer string `json:"pointer"`
		} `json:"location"`
	} `json:"problems"`
}

func withServer(t *testing.T, doc []byte, srv Server) []byte {
	t.Helper()
	b, err := WithServer(doc, srv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// redirectOnly reports whether the operation whose responses are at pointer
// (#/paths/~1go/get/responses) answers a 3XX and no 2XX.
func redirectOnly(t *testing.T, doc []byte, pointer string) bool {
	t.Helper()
	tokens := strings.Split(strings.TrimSuffix(strings.TrimPrefix(pointer, "#/"), "/responses"), "/")
	if len(tokens) != 3 || tokens[0] != "paths" {
		return false
	}
	path := strings.NewReplacer("~1", "/", "~0", "~").Replace(tokens[1])
	var d struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	redirect := false
	for code := range d.Paths[path][tokens[2]].Responses {
		switch code[0] {
		case '2':
			return false
		case '3':
			redirect = true
		}
	}
	return redirect
}
