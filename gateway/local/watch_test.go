package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "env.yaml", envFile)
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 16)
	done := make(chan struct{})
	w := NewWatcher(dir)
	// Made before Run starts, as during the first Load: still seen.
	writeFile(t, dir, "env.yaml", envFile+"# edited\n")
	go func() {
		defer close(done)
		w.Run(ctx, 20*time.Millisecond, func() { changes <- struct{}{} })
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Watch did not return after its context was done")
		}
	}()

	wait := func(what string) {
		t.Helper()
		select {
		case <-changes:
		case <-time.After(10 * time.Second):
			t.Fatalf("Watch did not notice %s", what)
		}
	}
	wait("a change made before Run started")
	writeFile(t, dir, "apis/hello.yaml", helloAPI)
	wait("a new file")
	writeFile(t, dir, "apis/hello.yaml", helloAPI+"# a longer file\n")
	wait("a changed file")
	if err := os.Remove(filepath.Join(dir, "apis/hello.yaml")); err != nil {
		t.Fatal(err)
	}
	wait("a removed file")
}

func TestScanSkipsWhatLoadSkips(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", "a")
	writeFile(t, dir, "sub/b.json", "{}")
	writeFile(t, dir, "c.yml", "c")
	writeFile(t, dir, "notes.txt", "not a manifest")
	writeFile(t, dir, ".appapi/tokens.json", "{}")
	writeFile(t, dir, ".git/x.yaml", "x")
	got := scan(dir)
	if len(got) != 3 {
		t.Errorf("scan found %d files; want 3: %v", len(got), got)
	}
}
