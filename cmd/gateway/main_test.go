package main

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const manifests = `apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata: {name: dev}
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: client}
spec: {environment: dev}
`

// TestPortTakenStopsBeforeMinting: a gateway that cannot bind one of its
// ports fails naming it, and has minted no token by then.
func TestPortTakenStopsBeforeMinting(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }()
	for _, flagName := range []string{"--listen", "--admin-listen"} {
		t.Run(flagName, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "env.yaml"), []byte(manifests), 0o644); err != nil {
				t.Fatal(err)
			}
			state, tokenFile := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "tokens.txt")
			o := options{manifests: dir, stateDir: state, tokenFile: tokenFile, listen: "127.0.0.1:0", adminListen: "127.0.0.1:0"}
			if flagName == "--listen" {
				o.listen = taken.Addr().String()
			} else {
				o.adminListen = taken.Addr().String()
			}
			var logs bytes.Buffer
			err := run(o, slog.New(slog.NewJSONHandler(&logs, nil)))
			want := "cannot listen on " + taken.Addr().String() + " (" + flagName + "): bind: address already in use"
			if err == nil || err.Error() != want {
				t.Fatalf("run() = %v; want %q", err, want)
			}
			if data, err := os.ReadFile(tokenFile); err == nil && len(data) > 0 {
				t.Errorf("a token was written before the gateway failed:\n%s", data)
			}
			if _, err := os.Stat(state); err == nil {
				t.Error("the state directory was created: something was loaded before the ports were bound")
			}
		})
	}
}

func TestTokenOutput(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	path := filepath.Join(t.TempDir(), "tokens.txt")

	w, where, err := tokenOutput(path, log)
	if err != nil || where != path {
		t.Fatalf("tokenOutput() = %q, %v", where, err)
	}
	if _, err := w.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v; want 0600", info.Mode().Perm())
	}

	// A file made by a shell redirection is narrowed, appended to, and said.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	w, _, err = tokenOutput(path, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("second\n")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "first\nsecond\n" {
		t.Errorf("file holds %q; want both lines", data)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after reopening; want 0600", info.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "readable by others") {
		t.Errorf("no warning about the wide mode in the log:\n%s", logs.String())
	}

	newDir := filepath.Join(t.TempDir(), "new")
	if _, _, err := tokenOutput(filepath.Join(newDir, "tokens.txt"), log); err != nil {
		t.Errorf("a path in a missing directory: %v", err)
	}
	if info, err := os.Stat(newDir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("the missing directory: %v; want it made with mode 0700", err)
	}
	if _, _, err := tokenOutput(filepath.Join(path, "tokens.txt"), log); err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Errorf("an unwritable path: %v; want an error naming --token-file", err)
	}
	if w, where, _ := tokenOutput("", log); w != os.Stderr || where != "stderr" {
		t.Errorf("no path: %v, %q; want stderr", w, where)
	}
}

// TestDataDir: the SQLite file goes where --data-dir says, else next to
// local mode's state, else on the volume the controller mounts.
func TestDataDir(t *testing.T) {
	for _, tc := range []struct {
		o    options
		want string
	}{
		{options{namespace: "shop", environment: "prod"}, "/var/lib/appapi"},
		{options{namespace: "shop", environment: "prod", dataDir: "/data"}, "/data"},
		{options{manifests: "examples", stateDir: ".appapi"}, ".appapi"},
		{options{manifests: "examples", stateDir: ".appapi", dataDir: "/tmp/d"}, "/tmp/d"},
	} {
		if got := dataDir(tc.o); got != tc.want {
			t.Errorf("dataDir(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}
