//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestREADMELocalMode runs the README's local-mode commands as written
// (all but `make build`, which the suite has done) and checks each answer,
// and that the token went to its file, readable by its owner only, and not
// to the terminal.
func TestREADMELocalMode(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)[strings.Index(string(readme), "Or serve the examples"):]
	block := section[strings.Index(section, "```sh\n")+6:]
	block = block[:strings.Index(block, "```")]
	var lines []string
	for _, line := range strings.Split(block, "\n") {
		if line != "" && !strings.HasPrefix(line, "make ") {
			lines = append(lines, line)
		}
	}
	// A directory of its own, with the repository's files linked in, so
	// that the state the commands write does not touch the checkout.
	dir := t.TempDir()
	abs, _ := filepath.Abs(root)
	for _, name := range []string{"bin", "examples", "hack", "internal", "go.mod", "go.sum"} {
		if err := os.Symlink(filepath.Join(abs, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// The commands leave the upstream and the gateway running, as a user
	// would until done; they run in a process group of their own, which is
	// killed afterwards.
	cmd := exec.Command("bash", "-c", "set -u\n"+strings.Join(lines, "\n"))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Start()
	if err == nil {
		defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()
		err = cmd.Wait()
		if errors.Is(err, exec.ErrWaitDelay) {
			err = nil
		}
	}
	out := buf.Bytes()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"HTTP/1.1 200 OK", `"name":"Biscuit"`, // /pets/1 with the token from the file
		"HTTP/1.1 302 Found", "Location: https://example.org/docs", // /go/docs
		`"tokenType":"Bearer"`, // /login
		`"openapi": "3.1.0"`,   // the OpenAPI document
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's commands did not produce %q:\n%s", want, out)
		}
	}

	tokenFile := filepath.Join(dir, ".appapi", "tokens.txt")
	info, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v; want 0600", tokenFile, info.Mode().Perm())
	}
	data, _ := os.ReadFile(tokenFile)
	m := regexp.MustCompile(`(?m)^appapi: token "demo-client" .*: (\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no demo-client token in %s", tokenFile)
	}
	if bytes.Contains(out, m[1]) {
		t.Error("the token was printed to the terminal; it belongs in the token file only")
	}
	if !bytes.Contains(out, []byte(`"msg":"minted a token","apitoken":"demo-client"`)) {
		t.Errorf("the terminal does not say a token was minted:\n%s", out)
	}
}
