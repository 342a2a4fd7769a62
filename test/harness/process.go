package harness

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a child process in a process group of its own, so that
// stopping it stops anything it started too.
type Process struct {
	cmd  *exec.Cmd
	log  *os.File
	once sync.Once
	done chan struct{}
}

func startProcess(path, logPath string, args ...string) (*Process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Pdeathsig: if the harness itself dies (a test binary killed on
	// timeout, say), its children die with it rather than linger.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID is the process ID, which is also its process group ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop asks the process group to terminate, then kills it after a grace period.
func (p *Process) Stop() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.PID(), syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
			<-p.done
		}
		_ = p.log.Close()
	})
}

// Kill kills the process group at once, as a node that dies or the OOM
// killer would: nothing in it gets to clean up. It returns once the
// process has exited.
func (p *Process) Kill() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		<-p.done
		_ = p.log.Close()
	})
}

// Log returns what the process wrote to stdout and stderr so far.
func (p *Process) Log() ([]byte, error) { return os.ReadFile(p.log.Name()) }
