// Package postgres starts a real PostgreSQL server for tests: one server per
// test binary, and a fresh database for each test that asks.
//
// The server is started by the first NewDatabase call (initdb into a
// temporary directory, postgres listening on a free loopback port, fsync
// off) and stopped by Main when the tests have run; the package's TestMain
// must call it:
//
//	func TestMain(m *testing.M) { os.Exit(postgres.Main(m)) }
//
// Should the test binary die first, the server gets SIGQUIT from the
// kernel (the parent-death signal) and stops too.
//
// PostgreSQL refuses to run as root: as root, the server runs as the user
// nobody (or appapi-pg, created when nobody is missing). When initdb and
// postgres are not on PATH (nor in /usr/lib/postgresql/*/bin), tests skip
// with a message, unless APPAPI_REQUIRE_POSTGRES=1 (as in CI), where they
// fail.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/appapi-dev/appapi/internal/testutil"
)

// RequireEnv makes a missing PostgreSQL fail the tests instead of skipping them.
const RequireEnv = "APPAPI_REQUIRE_POSTGRES"

var (
	once      sync.Once
	running   *server
	startErr  error
	databases atomic.Int64
)

type server struct {
	dir  string
	port int
	cmd  *exec.Cmd
	log  *testutil.SyncBuffer
	done chan struct{}
}

// Main runs the tests, then stops the server if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if running != nil {
		running.stop()
	}
	return code
}

// NewDatabase creates an empty database on the test binary's server and
// returns its URL (no password: the server trusts loopback connections).
func NewDatabase(t testing.TB) string {
	t.Helper()
	url, create := LaterDatabase(t)
	create()
	return url
}

// LaterDatabase returns the URL of a database that does not exist until
// create is called, for tests of a server that answers late.
func LaterDatabase(t testing.TB) (url string, create func()) {
	t.Helper()
	once.Do(func() { running, startErr = start() })
	if startErr != nil {
		var missing errMissing
		if errors.As(startErr, &missing) && os.Getenv(RequireEnv) != "1" {
			t.Skipf("PostgreSQL tests skipped: %v (set %s=1 to fail instead)", startErr, RequireEnv)
		}
		t.Fatalf("PostgreSQL: %v", startErr)
	}
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), databases.Add(1))
	admin := running.url("postgres")
	ctx := context.Background()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	t.Cleanup(func() {
		if err := exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("dropping database %s: %v", name, err)
		}
	})
	return running.url(name), func() {
		t.Helper()
		if err := exec("CREATE DATABASE " + name); err != nil { // name is ours: test_<digits>_<digits>
			t.Fatalf("creating database %s: %v", name, err)
		}
	}
}

func (s *server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

type errMissing struct{ what string }

func (e errMissing) Error() string { return e.what }

// binDir finds the directory holding initdb and postgres.
func binDir() (string, error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(initdb)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
		if p, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Strings(found)
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1]), nil
	}
	return "", errMissing{"initdb and postgres are not on PATH nor in /usr/lib/postgresql/*/bin"}
}

func start() (*server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp("", "appapi-pg-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: base, log: &testutil.SyncBuffer{}, done: make(chan struct{})}
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		// The server's user must reach its data directory.
		if err := os.Chmod(base, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(data, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Dir = base
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.port = port
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB", "-c", "max_connections=200")
	s.cmd.Dir = base
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting postgres: %v", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady waits until the server accepts a connection, or has exited.
func (s *server) waitReady() error {
	deadline := time.Now().Add(2 * time.Minute) // generous: the machine is shared
	for {
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited while starting:\n%s", s.log.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections in 2 minutes: %v\n%s", err, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts the server down fast (SIGINT), waits, and removes its files.
func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	_ = os.RemoveAll(s.dir)
}

// unprivileged returns the credential to run PostgreSQL with: nil unless
// this process is root, else the user nobody, or appapi-pg (created if
// needed) where nobody is missing.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		if u, err = user.Lookup("appapi-pg"); err != nil {
			if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "appapi-pg").CombinedOutput(); err != nil {
				return nil, fmt.Errorf("PostgreSQL refuses to run as root, and creating the user appapi-pg failed: %v: %s", err, out)
			}
			if u, err = user.Lookup("appapi-pg"); err != nil {
				return nil, err
			}
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
