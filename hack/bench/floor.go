package main

import (
	"net/http"
	"time"
)

// floorBody is what the floor answers: a small order document, which the
// gateway's http-step endpoints fetch and reshape.
const floorBody = `{"id":"ord-829104","customer":"c-42","status":"shipped","total":129.5,"items":3}`

// serveFloor serves floorBody on every path: the fastest a Go net/http server
// answers on this machine, the baseline every target is divided by.
func serveFloor(addr string) error {
	body := []byte(floorBody)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}
