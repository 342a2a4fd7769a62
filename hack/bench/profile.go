package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// profileDuring starts fetching a CPU profile of d from the gateway's
// admin listener into file, and returns a function that waits for it. A
// failure is reported, not fatal: the profile is an aid, not a result.
func profileDuring(admin string, d time.Duration, file string) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fetchProfile(admin, d, file); err != nil {
			logf("CPU profile: %v", err)
			return
		}
		logf("CPU profile of the gateway written to %s (go tool pprof %s)", file, file)
	}()
	return func() { <-done }
}

func fetchProfile(admin string, d time.Duration, file string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, max(1, int(d.Seconds())))
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
