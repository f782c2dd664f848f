package haproxytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Names used in the generated configuration.
const (
	WriterBackend = "writer"
	WriterServer  = "db"
	ReaderBackend = "readers"
)

// HAProxy is one running haproxy process and its configuration.
type HAProxy struct {
	Dir                string // temporary directory holding everything below
	ConfigPath         string
	SocketPath         string // admin-level stats socket (unix)
	AdminTCPAddr       string // the same runtime API on 127.0.0.1:port
	StateFile          string // server-state-file, reloaded on start
	LogPath            string // haproxy's stdout and stderr
	FrontendAddr       string // 127.0.0.1:port routed to backend "writer"
	ReaderFrontendAddr string // 127.0.0.1:port routed to backend "readers"
	ReaderServers      []string

	bin  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startTimeout bounds waiting for haproxy to answer on its socket.
const startTimeout = 20 * time.Second

// Start runs haproxy with backend "writer" pointing at writer (host:port)
// and backend "readers" with one slot per reader (at least two; spare
// slots disabled). It registers Stop with t.Cleanup.
func Start(t testing.TB, writer string, readers ...string) *HAProxy {
	t.Helper()
	h, err := Launch(t.Context(), t.TempDir(), writer, readers...)
	if h != nil {
		t.Cleanup(h.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Launch is Start for programs (make demo): everything lives under dir,
// and the caller stops haproxy with Stop. On an error after haproxy was
// started it returns the HAProxy too, so that the caller can stop it.
func Launch(ctx context.Context, dir, writer string, readers ...string) (*HAProxy, error) {
	bin, err := findHAProxy()
	if err != nil {
		return nil, err
	}
	h := &HAProxy{Dir: dir, bin: bin}
	h.ConfigPath = filepath.Join(h.Dir, "haproxy.cfg")
	h.SocketPath = filepath.Join(h.Dir, "haproxy.sock")
	h.StateFile = filepath.Join(h.Dir, "haproxy.state")
	h.LogPath = filepath.Join(h.Dir, "haproxy.log")
	addrs, err := freeAddrs(3)
	if err != nil {
		return nil, err
	}
	h.FrontendAddr, h.ReaderFrontendAddr, h.AdminTCPAddr = addrs[0], addrs[1], addrs[2]
	cfg := h.config(writer, readers)
	if err := os.WriteFile(h.ConfigPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("writing haproxy config: %w", err)
	}
	if err := h.start(ctx); err != nil {
		return h, err
	}
	return h, nil
}

func findHAProxy() (string, error) {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	if st, err := os.Stat("/usr/sbin/haproxy"); err == nil && !st.IsDir() {
		return "/usr/sbin/haproxy", nil
	}
	return "", errors.New("haproxy not found in PATH or /usr/sbin: install it with `apt-get install haproxy`")
}

// freeAddrs returns n distinct loopback addresses whose ports are free
// right now.
func freeAddrs(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close() // held until all are chosen, so they differ
		out = append(out, l.Addr().String())
	}
	return out, nil
}

func (h *HAProxy) config(writer string, readers []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    nbthread 1
    stats socket %s mode 600 level admin
    stats socket ipv4@%s level admin
    server-state-file %s

defaults
    mode tcp
    timeout connect 2s
    timeout client 2m
    timeout server 2m
    load-server-state-from-file global
    default-server check inter 100ms fall 1 rise 1

frontend writer_fe
    bind %s
    default_backend %s

frontend reader_fe
    bind %s
    default_backend %s

backend %s
    server %s %s

backend %s
    balance roundrobin
`, h.SocketPath, h.AdminTCPAddr, h.StateFile, h.FrontendAddr, WriterBackend, h.ReaderFrontendAddr, ReaderBackend,
		WriterBackend, WriterServer, writer, ReaderBackend)
	slots := max(len(readers), 2)
	for i := range slots {
		name := fmt.Sprintf("r%d", i+1)
		h.ReaderServers = append(h.ReaderServers, name)
		if i < len(readers) {
			fmt.Fprintf(&b, "    server %s %s\n", name, readers[i])
		} else {
			fmt.Fprintf(&b, "    server %s 127.0.0.1:1 disabled\n", name)
		}
	}
	return b.String()
}

func (h *HAProxy) start(ctx context.Context) error {
	out, err := os.OpenFile(h.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening haproxy log: %w", err)
	}
	defer out.Close() // the child keeps its own descriptor
	cmd := exec.Command(h.bin, "-db", "-f", h.ConfigPath)
	cmd.Dir = h.Dir
	cmd.Stdout, cmd.Stderr = out, out
	// Killed with the test process even if it dies without cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", h.bin, err)
	}
	h.cmd, h.done = cmd, make(chan struct{})
	done := h.done
	go func() {
		_ = cmd.Wait() // the reason is in the log
		close(done)
	}()
	return h.waitReady(ctx)
}

func (h *HAProxy) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var last error
	for {
		select {
		case <-h.done:
			return fmt.Errorf("haproxy exited during startup; log %s:\n%s", h.LogPath, h.logTail())
		default:
		}
		if last = h.ping(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for haproxy's stats socket: %w (last: %v); log:\n%s", ctx.Err(), last, h.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ping asks "show info" on the stats socket.
func (h *HAProxy) ping() error {
	c, err := net.DialTimeout("unix", h.SocketPath, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "show info\n"); err != nil {
		return err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), "Name: HAProxy") {
		return fmt.Errorf("unexpected answer to show info: %.200q", b)
	}
	return nil
}

func (h *HAProxy) logTail() string {
	b, _ := os.ReadFile(h.LogPath) // best effort, for an error message
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// PID is the running haproxy's process id (0 when stopped).
func (h *HAProxy) PID() int {
	if h.cmd == nil || h.cmd.Process == nil {
		return 0
	}
	select {
	case <-h.done:
		return 0
	default:
		return h.cmd.Process.Pid
	}
}

// Stop terminates haproxy (SIGTERM, then SIGKILL after 5 s) and waits.
func (h *HAProxy) Stop() {
	if h.cmd == nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM) // it may have exited already
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
	h.cmd = nil
}

// Restart stops haproxy and starts it again from ConfigPath (which the
// test may have changed) and StateFile.
func (h *HAProxy) Restart(t testing.TB) {
	t.Helper()
	h.Stop()
	if err := h.start(t.Context()); err != nil {
		t.Fatalf("restarting haproxy: %v", err)
	}
}
