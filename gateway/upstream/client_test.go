package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/appapi-dev/appapi/internal/testutil"
)

// sides are the two ways to an upstream, each test running on both: New
// sends plain http over the fast side, NewStandard over net/http.
func sides(t *testing.T, test func(t *testing.T, c *Client)) {
	t.Helper()
	for name, c := range map[string]*Client{"fast": New(), "standard": NewStandard(&http.Client{})} {
		t.Run(name, func(t *testing.T) { test(t, c) })
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func get(t *testing.T, raw string) *Request {
	return &Request{Method: "GET", URL: mustParse(t, raw)}
}

// received is what an upstream saw of one request.
type received struct {
	method, requestURI, host, body, proto string
	header                                http.Header
	contentLength                         int64
	transferEncoding                      []string
}

func recorder(answer http.HandlerFunc) (*httptest.Server, func() received) {
	var mu sync.Mutex
	var last received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = received{r.Method, r.RequestURI, r.Host, string(b), r.Proto, r.Header.Clone(), r.ContentLength, r.TransferEncoding}
		mu.Unlock()
		answer(w, r)
	}))
	return srv, func() received {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

func TestExchange(t *testing.T) {
	sides(t, func(t *testing.T, c *Client) {
		srv, seen := recorder(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Add("X-Multi", "a")
			w.Header().Add("X-Multi", "b")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":42}`)
		})
		defer srv.Close()
		resp, err := c.Do(context.Background(), &Request{
			Method: "POST",
			URL:    mustParse(t, srv.URL+"/orders/a%2Fb?x=1&y=%20"),
			Host:   "upstream.example",
			Header: []Field{
				{"X-Api-Key", "k"}, {"Content-Type", "application/json"},
				// The client frames the message itself.
				{"Content-Length", "999"}, {"Transfer-Encoding", "chunked"}, {"Host", "other.example"},
			},
			Body: []byte(`{"n":1}`),
		}, time.Minute, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Release()
		if resp.Status != 201 || string(resp.Body) != `{"id":42}` || resp.ContentType != "application/json" {
			t.Errorf("response = %d %q %q", resp.Status, resp.ContentType, resp.Body)
		}
		want := map[string]any{"content-type": "application/json", "x-multi": "a, b", "content-length": "9"}
		delete(resp.Header, "date")
		if diff := cmp.Diff(want, resp.Header); diff != "" {
			t.Errorf("header (-want +got):\n%s", diff)
		}
		got := seen()
		if got.method != "POST" || got.requestURI != "/orders/a%2Fb?x=1&y=%20" || got.host != "upstream.example" ||
			got.body != `{"n":1}` || got.contentLength != 7 || got.transferEncoding != nil || got.proto != "HTTP/1.1" {
			t.Errorf("upstream saw %+v", got)
		}
		if got.header.Get("X-Api-Key") != "k" || got.header.Get("User-Agent") != "Go-http-client/1.1" {
			t.Errorf("upstream saw header %v", got.header)
		}
	})
}

func TestUserAgentFromStep(t *testing.T) {
	sides(t, func(t *testing.T, c *Client) {
		srv, seen := recorder(func(http.ResponseWriter, *http.Request) {})
		defer srv.Close()
		req := get(t, srv.URL)
		req.Header = []Field{{"user-agent", "shop/1"}}
		resp, err := c.Do(context.Background(), req, time.Minute, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		resp.Release()
		if got := seen().header.Values("User-Agent"); len(got) != 1 || got[0] != "shop/1" {
			t.Errorf("User-Agent = %q", got)
		}
	})
}

func TestHead(t *testing.T) {
	sides(t, func(t *testing.T, c *Client) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
		}))
		defer srv.Close()
		for range 2 { // the connection stays usable
			resp, err := c.Do(context.Background(), &Request{Method: "HEAD", URL: mustParse(t, srv.URL)}, time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 || len(resp.Body) != 0 || resp.Header["content-length"] != "1000" {
				t.Errorf("HEAD = %d %q %v", resp.Status, resp.Body, resp.Header)
			}
			resp.Release()
		}
	})
}

func TestRedirectIsTheAnswer(t *testing.T) {
	sides(t, func(t *testing.T, c *Client) {
		var followed atomic.Bool
		elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Store(true) }))
		defer elsewhere.Close()
		srv := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/steal", http.StatusFound))
		defer srv.Close()
		resp, err := c.Do(context.Background(), get(t, srv.URL), time.Minute, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Release()
		if resp.Status != 302 || resp.Header["location"] != elsewhere.URL+"/steal" || followed.Load() {
			t.Errorf("got %d %v, followed %v", resp.Status, resp.Header, followed.Load())
		}
	})
}

func TestBodyLimit(t *testing.T) {
	sides(t, func(t *testing.T, c *Client) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			payload := strings.Repeat("x", 1000)
			if r.URL.Path == "/chunked" {
				_, _ = io.WriteString(w, payload[:500])
				w.(http.Flusher).Flush()
			} else {
				w.Header().Set("Content-Length", "1000")
				_, _ = io.WriteString(w, payload[:500])
			}
			_, _ = io.WriteString(w, payload[500:])
		}))
		defer srv.Close()
		for _, path := range []string{"/sized", "/chunked"} {
			for range 2 { // a refused answer leaves the next request unharmed
				if _, err := c.Do(context.Background(), get(t, srv.URL+path), time.Minute, 999); !errors.Is(err, ErrTooLarge) {
					t.Errorf("%s over the limit: %v, want ErrTooLarge", path, err)
				}
				resp, err := c.Do(context.Background(), get(t, srv.URL+path), time.Minute, 1000)
				if err != nil || len(resp.Body) != 1000 {
					t.Fatalf("%s at the limit: %v", path, err)
				}
				resp.Release()
			}
		}
	})
}

// hanging answers when the client gives up, and says when that was.
func hanging(t *testing.T) (srv *httptest.Server, arrived, ended chan struct{}) {
	arrived, ended = make(chan struct{}, 16), make(chan struct{}, 16)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
		ended <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return srv, arrived, ended
}

func TestTimeouts(t *testing.T) {
	sides(t, func(t *testing.T, c *Client) {
		srv, arrived, ended := hanging(t)
		if _, err := c.Do(context.Background(), get(t, srv.URL), 50*time.Millisecond, 1<<20); !errors.Is(err, ErrTimeout) {
			t.Errorf("step timeout: %v, want ErrTimeout", err)
		}
		<-ended // the upstream learns that nobody waits any more

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.Do(ctx, get(t, srv.URL), time.Minute, 1<<20); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("caller's deadline: %v, want context.DeadlineExceeded", err)
		}
		<-ended

		for range 2 { // the two requests above
			<-arrived
		}
		ctx, cancel = context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		if _, err := c.Do(ctx, get(t, srv.URL), time.Minute, 1<<20); !errors.Is(err, context.Canceled) {
			t.Errorf("caller gone: %v, want context.Canceled", err)
		}
		<-ended
	})
}

func TestConnectionRefused(t *testing.T) {
	sides(t, func(t *testing.T, c *Client) {
		_, err := c.Do(context.Background(), get(t, "http://"+testutil.UnusedAddr(t)+"/secret?key=s3cr3t"), time.Minute, 1<<20)
		if !errors.Is(err, ErrConnect) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("err = %v, want ErrConnect without the URL", err)
		}
	})
}

// countingServer counts the connections opened to it, and can close its
// idle ones as an upstream with a short keep-alive timeout does.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestConnectionReuse(t *testing.T) {
	sides(t, func(t *testing.T, c *Client) {
		srv, conns := countingServer(t)
		for range 5 {
			resp, err := c.Do(context.Background(), get(t, srv.URL), time.Minute, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			resp.Release()
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("5 requests in a row opened %d connections, want 1", n)
		}
	})
}

// TestConnectionCloseFromStep: a step that sends Connection: close gets a
// new connection for each request.
func TestConnectionCloseFromStep(t *testing.T) {
	sides(t, func(t *testing.T, c *Client) {
		srv, conns := countingServer(t)
		for range 3 {
			req := get(t, srv.URL)
			req.Header = []Field{{"Connection", "close"}}
			resp, err := c.Do(context.Background(), req, time.Minute, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			resp.Release()
		}
		if n := conns.Load(); n != 3 {
			t.Errorf("3 requests with Connection: close opened %d connections, want 3", n)
		}
	})
}

// TestUpstreamClosedIdleConnection: an upstream may close a kept-alive
// connection between requests. A GET is sent again on a new connection; a
// POST, which must not be sent twice, goes on the fast side only over a
// connection found open (net/http fails it when its reader goroutine has
// not yet seen the close, so it is not asserted there).
func TestUpstreamClosedIdleConnection(t *testing.T) {
	sides(t, func(t *testing.T, c *Client) {
		srv, conns := countingServer(t)
		methods := []string{"GET", "GET", "GET"}
		if c.fast {
			methods = []string{"GET", "POST", "GET", "POST", "POST"}
		}
		for i, method := range methods {
			resp, err := c.Do(context.Background(), &Request{Method: method, URL: mustParse(t, srv.URL), Body: []byte("b")}, time.Minute, 1<<20)
			if err != nil {
				t.Fatalf("%s after the upstream closed the idle connection: %v", method, err)
			}
			resp.Release()
			if n := conns.Load(); n != int64(i+1) {
				t.Fatalf("request %d went over connection %d", i+1, n)
			}
			srv.CloseClientConnections()
		}
	})
}

// TestIdleConnectionsBounded: connections above MaxIdleConnsPerHost are
// closed when their request ends rather than kept idle.
func TestIdleConnectionsBounded(t *testing.T) {
	const n = MaxIdleConnsPerHost + 6
	var waiting sync.WaitGroup
	waiting.Add(n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		waiting.Done()
		waiting.Wait() // n connections at once
	}))
	defer srv.Close()
	c := New()
	var done sync.WaitGroup
	for range n {
		done.Go(func() {
			resp, err := c.Do(context.Background(), get(t, srv.URL), time.Minute, 1<<20)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Release()
		})
	}
	done.Wait()
	u := mustParse(t, srv.URL)
	if idle := c.fastHost(hostPort(u.Hostname(), u.Port())).hc.IdleConnsCount(); idle != MaxIdleConnsPerHost {
		t.Errorf("%d idle connections, want %d", idle, MaxIdleConnsPerHost)
	}
}

// TestHTTPSOnNetHTTP: https upstreams go over net/http, with its
// certificate verification and HTTP/2.
func TestHTTPSOnNetHTTP(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	// The test server's certificate is not trusted by the system.
	_, err := New().Do(context.Background(), get(t, srv.URL), time.Minute, 1<<20)
	if !errors.Is(err, ErrConnect) {
		t.Errorf("untrusted certificate: %v, want ErrConnect", err)
	}

	resp, err := NewStandard(srv.Client()).Do(context.Background(), get(t, srv.URL), time.Minute, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Release()
	if string(resp.Body) != "HTTP/2.0" {
		t.Errorf("upstream saw %q, want HTTP/2.0", resp.Body)
	}
}

func TestWhichSide(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://proxy.internal:3128")
	t.Setenv("NO_PROXY", "direct.internal")
	c := New()
	for raw, fast := range map[string]bool{
		"http://direct.internal/x":          true,
		"http://proxied.internal/x":         false,
		"https://direct.internal/x":         false,
		"http://user:pass@direct.internal/": false,
	} {
		if got := c.takesFast(mustParse(t, raw)); got != fast {
			t.Errorf("%s on the fast side: %v, want %v", raw, got, fast)
		}
	}
	if NewStandard(&http.Client{}).takesFast(mustParse(t, "http://direct.internal/x")) {
		t.Error("NewStandard's client took the fast side")
	}
}
