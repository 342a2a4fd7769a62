package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The generator's HTTP/1.1 reader against net/http: answers are counted,
// and a non-200 is an error. Only counts are checked, never timings.
func TestLoopsCountAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(floorBody))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	ok := closedLoop(newRequest(addr, "/", map[string]string{"Authorization": "Bearer t"}), 2, 100*time.Millisecond)
	if ok.Requests == 0 || ok.Errors != 0 || len(ok.lat) != int(ok.Requests) {
		t.Errorf("closed loop: %d requests, %d errors, %d samples", ok.Requests, ok.Errors, len(ok.lat))
	}
	bad := openLoop(newRequest(addr, "/", nil), 2, 100*time.Millisecond, 200)
	if bad.Requests == 0 || bad.Errors != bad.Requests {
		t.Errorf("open loop of 401s: %d requests, %d errors", bad.Requests, bad.Errors)
	}
}
