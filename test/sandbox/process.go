package sandbox

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a running (or exited) mariadbd. done is closed when it has
// exited; for a process this program did not start (Attach) done is nil and
// liveness is checked by pid.
type process struct {
	pid  int
	done chan struct{}
}

func (p *process) exited() bool {
	if p.done != nil {
		select {
		case <-p.done:
			return true
		default:
		}
	}
	return !pidAlive(p.pid) // gone, or a zombie not reaped yet
}

// wait blocks until the process exits or ctx ends.
func (p *process) wait(ctx context.Context) error {
	if p.done != nil {
		select {
		case <-p.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("waiting for pid %d to exit: %w", p.pid, ctx.Err())
		}
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for pidAlive(p.pid) {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for pid %d to exit: %w", p.pid, ctx.Err())
		}
	}
	return nil
}

func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A zombie is dead for our purposes.
	stat, rerr := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if rerr != nil {
		return true
	}
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// isOurServer reports whether pid is a mariadbd serving datadir, so a
// recycled pid is never signalled.
func isOurServer(pid int, datadir string) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	return bytes.Contains(cmdline, []byte("\x00--datadir="+datadir+"\x00"))
}

// Start starts the server on its datadir and port and waits until it
// accepts connections. Starting a running instance is an error; a server
// that is not ready within the start timeout is killed.
func (in *Instance) Start(ctx context.Context) error {
	t0 := time.Now()
	in.mu.Lock()
	if in.proc != nil && !in.proc.exited() {
		in.mu.Unlock()
		return fmt.Errorf("starting %s: already running as pid %d", in.Name, in.proc.pid)
	}
	p, err := in.spawn()
	if err == nil {
		in.proc = p
	}
	in.mu.Unlock()
	if err != nil {
		return err
	}
	if err := in.waitReady(ctx, p); err != nil {
		return errors.Join(err, in.Kill())
	}
	in.flushPool()
	in.log.Info("mariadbd ready", "host", in.Addr(), "pid", p.pid, "took", time.Since(t0))
	return nil
}

func (in *Instance) spawn() (*process, error) {
	if err := os.MkdirAll(in.TmpDir(), 0o700); err != nil {
		return nil, fmt.Errorf("creating the tmpdir of %s: %w", in.Name, err)
	}
	out, err := os.OpenFile(in.Dir+"/stdout.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening stdout log of %s: %w", in.Name, err)
	}
	defer out.Close() // the child keeps its own descriptor
	cmd := exec.Command(in.bin, in.args...)
	cmd.Dir = in.Dir
	cmd.Stdout, cmd.Stderr = out, out
	if in.detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		// Killed with this process, even if it dies without cleanup.
		// (Pdeathsig follows the forking thread, and Go ends threads only
		// for goroutines that exit locked to one: none here.)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s for %s: %w", in.bin, in.Name, err)
	}
	p := &process{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status is in the error log; waiters watch done
		close(p.done)
	}()
	return p, nil
}

// errServerExited marks a server that died while starting.
var errServerExited = errors.New("mariadbd exited during startup")

func (in *Instance) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, in.startTimeout)
	defer cancel()
	db, err := sql.Open("mysql", in.socketDSN())
	if err != nil {
		return fmt.Errorf("opening socket connection to %s: %w", in.Socket, err)
	}
	defer db.Close()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.exited() {
			return fmt.Errorf("%w: %s (pid %d); error log %s:\n%s",
				errServerExited, in.Name, p.pid, in.ErrorLog(), in.errorLogTail(3000))
		}
		if _, serr := os.Stat(in.Socket); serr == nil {
			if err = db.PingContext(ctx); err == nil {
				return nil
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s (pid %d) to accept connections: %w (last: %v); error log:\n%s",
				in.Name, p.pid, ctx.Err(), err, in.errorLogTail(3000))
		}
	}
}

func (in *Instance) errorLogTail(n int) string {
	b, err := os.ReadFile(in.ErrorLog())
	if err != nil {
		return "(no error log: " + err.Error() + ")"
	}
	return string(tail(b, n))
}

// addrInUse reports whether the server failed because its port was taken.
func (in *Instance) addrInUse() bool {
	s := in.errorLogTail(4000)
	return strings.Contains(s, "Address already in use") || strings.Contains(s, "Do you already have another")
}

func (in *Instance) current() *process {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.proc
}

// PID is the server's process id, 0 before it first started.
func (in *Instance) PID() int {
	if p := in.current(); p != nil {
		return p.pid
	}
	return 0
}

// Running reports whether the server process is alive.
func (in *Instance) Running() bool {
	p := in.current()
	return p != nil && !p.exited()
}

// Stop shuts the server down cleanly (SIGTERM) and waits for it to exit.
// If ctx ends first it is killed and Stop returns the context's error.
func (in *Instance) Stop(ctx context.Context) error {
	return in.signalAndWait(ctx, syscall.SIGTERM)
}

// Kill kills the server with SIGKILL (a crash: no clean shutdown) and
// waits for it to exit.
func (in *Instance) Kill() error {
	return in.killWithin(context.Background())
}

func (in *Instance) killWithin(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return in.signalAndWait(ctx, syscall.SIGKILL)
}

// Restart stops the server cleanly and starts it again on the same datadir
// and port.
func (in *Instance) Restart(ctx context.Context) error {
	if err := in.Stop(ctx); err != nil {
		return err
	}
	return in.Start(ctx)
}

func (in *Instance) signalAndWait(ctx context.Context, sig syscall.Signal) error {
	p := in.current()
	if p == nil || p.exited() {
		return nil
	}
	if p.done == nil && !isOurServer(p.pid, in.DataDir) {
		return nil // not ours any more: the pid was recycled
	}
	if err := syscall.Kill(p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending %v to %s (pid %d): %w", sig, in.Name, p.pid, err)
	}
	err := p.wait(ctx)
	if err != nil && sig != syscall.SIGKILL {
		_ = syscall.Kill(p.pid, syscall.SIGKILL) // reported below via err
		kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = errors.Join(err, p.wait(kctx))
	}
	in.flushPool()
	if err != nil {
		return fmt.Errorf("stopping %s: %w", in.Name, err)
	}
	in.log.Info("mariadbd stopped", "host", in.Addr(), "pid", p.pid, "signal", sig.String())
	return nil
}
