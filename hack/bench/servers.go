package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// server is a process the bench started, and how to stop it.
type server struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

// start runs argv, on CPU 1 when the machine has a CPU for the load
// generator and one for the servers, with its output in dir/name.log.
func start(dir, name string, argv ...string) (*server, error) {
	if canPin() {
		argv = append([]string{"taskset", "-c", "1"}, argv...)
	}
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a Ctrl-C of the bench reaches the servers
	// through stop, not half of them through the terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &server{name: name, cmd: cmd, log: f}, nil
}

// stop asks the server to exit and kills it if it has not after 5 s.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	_ = s.log.Close()
}

// freeAddr returns a loopback address nothing listens on at the moment.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// waitHTTP polls url until it answers 200, for at most 30 s.
// startReady starts a server and waits until ready answers 200; a server
// that never does is stopped.
func startReady(dir, name, ready string, argv ...string) (*server, error) {
	s, err := start(dir, name, argv...)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(s, ready); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func waitHTTP(s *server, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if s.cmd.ProcessState != nil {
			break
		}
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(s.log.Name())
	return fmt.Errorf("%s did not answer 200 at %s; its output:\n%s", s.name, url, log)
}

func startFloor(dir, self string) (*server, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	s, err := startReady(dir, "floor", "http://"+addr+"/", self, "floor", "--listen", addr)
	return s, addr, err
}

// nginxConf proxies every request to the floor the way a tuned deployment
// would: one worker (it has one CPU), HTTP/1.1 keep-alive to the upstream,
// no access log.
const nginxConf = `daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/client_body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_requests 1000000;
  upstream floor {
    server %[3]s;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen %[2]s;
    location / {
      proxy_pass http://floor;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`

// errNoNginx says the nginx row is skipped, and how to get it.
var errNoNginx = errors.New("nginx is not installed: its row is skipped. To measure it: apt-get update && apt-get install -y nginx")

func startNginx(dir, floor string) (*server, string, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		// Debian keeps it in /usr/sbin, which a user's PATH may lack.
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			return nil, "", errNoNginx
		}
		bin = "/usr/sbin/nginx"
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, addr, floor), 0o644); err != nil {
		return nil, "", err
	}
	s, err := startReady(dir, "nginx", "http://"+addr+"/", bin, "-p", dir, "-c", conf)
	return s, addr, err
}

// nginxVersion is what `nginx -v` says, e.g. "nginx/1.22.1".
func nginxVersion() string {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	out, err := exec.Command(bin, "-v").CombinedOutput()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version:"))
}

// gatewayManifests is one Environment with the three endpoint shapes of
// issue 9. The http steps fetch the floor; every transform reshapes a
// document into the same small answer.
const gatewayManifests = `apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata:
  name: bench
spec:
  requestTimeout: 10s
  variables:
    floorURL: http://%[1]s
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata:
  name: bench-client
spec:
  environment: bench
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata:
  name: transform-only
spec:
  environment: bench
  method: GET
  path: /transform/{orderId}
  authentication:
    mode: None
  steps:
  - name: view
    transform:
      value: "{'id': request.params.orderId, 'status': 'shipped', 'items': 3}"
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata:
  name: http-transform
spec:
  environment: bench
  method: GET
  path: /proxy/{orderId}
  authentication:
    mode: None
  steps:
  - name: order
    http:
      method: GET
      url: "{{ vars.floorURL }}/orders/{{ request.params.orderId }}"
  - name: view
    transform:
      value: "{'id': steps.order.body.id, 'status': steps.order.body.status, 'items': steps.order.body.items}"
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata:
  name: token-http-transform
spec:
  environment: bench
  method: GET
  path: /token-proxy/{orderId}
  authentication:
    mode: Token
  steps:
  - name: order
    http:
      method: GET
      url: "{{ vars.floorURL }}/orders/{{ request.params.orderId }}"
  - name: view
    transform:
      value: "{'id': steps.order.body.id, 'status': steps.order.body.status, 'items': steps.order.body.items}"
`

var tokenLine = regexp.MustCompile(`(?m)^appapi: token "bench-client" .*: (\S+)$`)

// startGateway serves gatewayManifests in local mode and returns its address,
// the token it minted and its admin address.
func startGateway(dir, bin, floor string, pprof bool) (*server, string, string, string, error) {
	manifests := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		return nil, "", "", "", err
	}
	if err := os.WriteFile(filepath.Join(manifests, "bench.yaml"), fmt.Appendf(nil, gatewayManifests, floor), 0o644); err != nil {
		return nil, "", "", "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", "", "", err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, "", "", "", err
	}
	tokens := filepath.Join(dir, "tokens.txt")
	args := []string{"--manifests", manifests, "--state-dir", filepath.Join(dir, "state"),
		"--token-file", tokens, "--listen", addr, "--admin-listen", admin, "--drain-timeout", "1s"}
	if pprof {
		args = append(args, "--pprof")
	}
	s, err := startReady(dir, "gateway", "http://"+admin+"/readyz", append([]string{bin}, args...)...)
	if err != nil {
		return nil, "", "", "", err
	}
	text, err := os.ReadFile(tokens)
	m := tokenLine.FindSubmatch(text)
	if err != nil || m == nil {
		s.stop()
		return nil, "", "", "", fmt.Errorf("the gateway wrote no token for bench-client to %s", tokens)
	}
	return s, addr, string(m[1]), admin, nil
}

// load is one target and the request that loads it.
type load struct {
	target Target
	req    request
}

// fleet is every server of a run, all started before the first load so that
// rounds can interleave the targets. Idle, they cost nothing measurable.
type fleet struct {
	servers      []*server
	targets      []load
	gatewayAdmin string // serves the gateway's /metrics
}

func (f *fleet) stop() {
	for i := len(f.servers) - 1; i >= 0; i-- {
		f.servers[i].stop()
	}
	f.servers = nil
}

// baselinePrefix names the rows of the gateway built from --baseline.
const baselinePrefix = "baseline "

// gatewayLoads are the gateway's three endpoint shapes; prefix tells a
// baseline gateway's rows from this checkout's.
func gatewayLoads(prefix, addr, token string) []load {
	return []load{
		{Target{Name: prefix + transformName, Description: "one `transform` step, no upstream, no auth"},
			newRequest(addr, "/transform/ord-829104", nil)},
		{Target{Name: prefix + proxyName, Description: "`http` step GET → floor, then `transform` of its body"},
			newRequest(addr, "/proxy/ord-829104", nil)},
		{Target{Name: prefix + tokenName, Description: "bearer token checked, then `http` step → floor and `transform`"},
			newRequest(addr, "/token-proxy/ord-829104", map[string]string{"Authorization": "Bearer " + token})},
	}
}

func startAll(dir, self, gwBin string, pprof bool, baseBin string) (*fleet, error) {
	f := &fleet{}
	floor, floorAddr, err := startFloor(dir, self)
	if err != nil {
		return f, err
	}
	f.servers = append(f.servers, floor)
	const path = "/orders/ord-829104"
	f.targets = append(f.targets, load{Target{Name: floorName,
		Description: "plain Go net/http server answering a fixed 81-byte JSON body"}, newRequest(floorAddr, path, nil)})

	nginxRow := Target{Name: nginxName, Description: "nginx `proxy_pass` → floor (keep-alive upstream, access log off, 1 worker)"}
	ngx, ngxAddr, err := startNginx(dir, floorAddr)
	switch {
	case errors.Is(err, errNoNginx):
		logf("%v", err)
		nginxRow.Skipped = "not installed: `apt-get update && apt-get install -y nginx`"
		f.targets = append(f.targets, load{target: nginxRow})
	case err != nil:
		return f, err
	default:
		f.servers = append(f.servers, ngx)
		f.targets = append(f.targets, load{nginxRow, newRequest(ngxAddr, path, nil)})
	}

	if baseBin != "" {
		baseDir := filepath.Join(dir, "baseline")
		if err := os.MkdirAll(baseDir, 0o755); err != nil {
			return f, err
		}
		base, baseAddr, baseToken, _, err := startGateway(baseDir, baseBin, floorAddr, false)
		if err != nil {
			return f, fmt.Errorf("baseline gateway: %w", err)
		}
		f.servers = append(f.servers, base)
		f.targets = append(f.targets, gatewayLoads(baselinePrefix, baseAddr, baseToken)...)
	}

	gw, gwAddr, token, admin, err := startGateway(dir, gwBin, floorAddr, pprof)
	if err != nil {
		return f, err
	}
	f.servers = append(f.servers, gw)
	f.gatewayAdmin = admin
	f.targets = append(f.targets, gatewayLoads("", gwAddr, token)...)
	return f, nil
}
