package kafkatest

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// script is kafka.sh, embedded so the helper works from any working directory.
//
//go:embed kafka.sh
var script []byte

// stopTimeout is how long a broker gets to shut down after SIGTERM.
const stopTimeout = 30 * time.Second

// process is one broker JVM owned by this package: `kafka.sh run` execs java,
// so the child is the broker itself.
type process struct {
	dataDir string
	script  string
	port    int
	cport   int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// launch fetches the jars if needed, picks free ports and starts a broker with
// its data in dir.
func launch(ctx context.Context, dir string) (*process, error) {
	path := filepath.Join(dir, "kafka.sh")
	if err := os.WriteFile(path, script, 0o755); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := fetchJars(ctx, path); err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	p := &process{dataDir: dir, script: path, port: ports[0], cport: ports[1]}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// fetchJars runs `kafka.sh fetch`, which returns at once when the cache is full.
func fetchJars(ctx context.Context, script string) error {
	out, err := exec.CommandContext(ctx, "bash", script, "fetch").CombinedOutput()
	if err != nil {
		return fmt.Errorf("fetching the Kafka broker jars failed (run `test/kafka/kafka.sh fetch`; "+
			"it needs java 17+ and mvn, e.g. apt-get install -y openjdk-17-jre-headless maven): %w\n%s", err, out)
	}
	return nil
}

// freePorts asks the kernel for n distinct free ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (p *process) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

func (p *process) logPath() string { return filepath.Join(p.dataDir, "broker.log") }

// start runs the broker and waits until it accepts a produce with acks=all.
func (p *process) start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("starting broker %s: already running", p.addr())
	}
	logf, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening broker log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command("bash", p.script, "run", "--data", p.dataDir,
		"--port", strconv.Itoa(p.port), "--controller-port", strconv.Itoa(p.cport))
	cmd.Stdout, cmd.Stderr = logf, logf
	// The broker dies with the test binary even when Main is not used.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	exited := make(chan struct{})
	if err := startLocked(cmd, exited); err != nil {
		return fmt.Errorf("starting broker %s: %w", p.addr(), err)
	}
	p.cmd, p.exited = cmd, exited
	if err := p.waitReady(ctx, exited); err != nil {
		p.kill()
		return err
	}
	return nil
}

// startLocked starts cmd from a goroutine locked to its OS thread that lives
// until cmd exits, then closes exited. Linux sends Pdeathsig when the thread
// that forked the child ends, not the process, so that thread must outlive
// the broker.
func startLocked(cmd *exec.Cmd, exited chan<- struct{}) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends after the broker
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait() // the exit status is reported through the log tail
		close(exited)
	}()
	return <-started
}

// waitReady waits for the port to accept connections, then for a produce.
func (p *process) waitReady(ctx context.Context, exited <-chan struct{}) error {
	for {
		conn, err := net.DialTimeout("tcp", p.addr(), time.Second)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("broker %s exited during start; %s", p.addr(), p.logTail())
		case <-ctx.Done():
			return fmt.Errorf("broker %s not listening: %w; %s", p.addr(), ctx.Err(), p.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
	readyCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-readyCtx.Done():
		}
	}()
	if err := WaitReady(readyCtx, p.addr()); err != nil {
		return fmt.Errorf("%w; %s", err, p.logTail())
	}
	return nil
}

// stop sends SIGTERM, waits up to stopTimeout, then kills. Stopping a stopped
// broker is a no-op.
func (p *process) stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling broker %s: %w", p.addr(), err)
	}
	select {
	case <-p.exited:
		p.cmd = nil
		return nil
	case <-time.After(stopTimeout):
	}
	p.kill()
	return fmt.Errorf("broker %s ignored SIGTERM for %v and was killed; %s", p.addr(), stopTimeout, p.logTail())
}

// kill ends the process at once and waits for it. The caller holds p.mu.
func (p *process) kill() {
	_ = p.cmd.Process.Kill() // fails only when it already exited
	<-p.exited
	p.cmd = nil
}

// running reports whether the broker process is alive.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// logTail returns the last lines of the broker log for error messages.
func (p *process) logTail() string {
	const maxBytes = 4000
	b, err := os.ReadFile(p.logPath())
	if err != nil {
		return fmt.Sprintf("broker log %s unreadable: %v", p.logPath(), err)
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return fmt.Sprintf("broker log %s ends with:\n%s", p.logPath(), b)
}
