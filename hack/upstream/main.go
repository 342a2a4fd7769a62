// Command upstream runs the examples' upstream service (internal/demoupstream)
// for trying the examples with the gateway's local mode:
//
//	go run ./hack/upstream &
//	bin/gateway --manifests examples/
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/appapi-dev/appapi/internal/demoupstream"
)

func main() {
	addr := flag.String("listen", demoupstream.DefaultAddress, "Address to listen on.")
	flag.Parse()
	log.Printf("example upstream listening on http://%s", *addr)
	srv := &http.Server{Addr: *addr, Handler: demoupstream.Handler(), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
