package router

import (
	"fmt"
	"testing"

	"github.com/appapi-dev/appapi/gateway/pathtemplate"
)

type benchReq struct {
	method, path string
	handler      int
}

// benchShapes are the endpoints of one tenant; a router of n routes has
// n/len(benchShapes) tenants, as a gateway serving many small apps would.
var benchShapes = []struct{ method, path, example string }{
	{"GET", "/tenants/%s/orders", "/tenants/%s/orders"},
	{"POST", "/tenants/%s/orders", "/tenants/%s/orders"},
	{"GET", "/tenants/%s/orders/{orderId}", "/tenants/%s/orders/ord-829104"},
	{"GET", "/tenants/%s/orders/{orderId}/items/{itemId}", "/tenants/%s/orders/ord-829104/items/17"},
	{"PUT", "/tenants/%s/customers/{customerId}/addresses/{addressId}/", "/tenants/%s/customers/c-5521/addresses/home/"},
}

// benchFixture returns n entries, whose handler is their index, and one hit
// request per entry, interleaved so that consecutive lookups hit different
// tenants and shapes.
func benchFixture(n int) ([]Entry[int], []benchReq) {
	es := make([]Entry[int], 0, n)
	var reqs []benchReq
	for i := 0; len(es) < n; i++ {
		tenant := fmt.Sprintf("t%05d", i)
		for _, s := range benchShapes {
			if len(es) == n {
				break
			}
			tmpl, err := pathtemplate.Parse(fmt.Sprintf(s.path, tenant))
			if err != nil {
				panic(err)
			}
			reqs = append(reqs, benchReq{s.method, fmt.Sprintf(s.example, tenant), len(es)})
			es = append(es, Entry[int]{Method: s.method, Path: tmpl, Handler: len(es)})
		}
	}
	// A stride coprime with the length visits every request in a scattered order.
	mixed := make([]benchReq, len(reqs))
	for i := range reqs {
		mixed[i] = reqs[(i*7919)%len(reqs)]
	}
	return es, mixed
}

var benchSizes = []int{10, 10000}

func BenchmarkLookup(b *testing.B) {
	benchmarkLookups(b, func(es []Entry[int]) lookup {
		r, err := New(es)
		if err != nil {
			b.Fatal(err)
		}
		return r.Lookup
	})
}

// BenchmarkLookupBaseline runs the naive linear scan on the same fixture, so
// that BenchmarkLookup can be read as a ratio measured on the same machine in
// the same run.
func BenchmarkLookupBaseline(b *testing.B) {
	benchmarkLookups(b, func(es []Entry[int]) lookup { return (&naive[int]{entries: es}).Lookup })
}

type lookup func(method, path string) (Match[int], int, string)

func benchmarkLookups(b *testing.B, build func([]Entry[int]) lookup) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			es, reqs := benchFixture(n)
			find := build(es)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				q := reqs[i%len(reqs)]
				if m, status, _ := find(q.method, q.path); status != 200 || m.Handler != q.handler {
					b.Fatalf("Lookup(%s %s) = %d %d", q.method, q.path, m.Handler, status)
				}
				i++
			}
		})
	}
}
