package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Backend names of the demo's HAProxy configuration (those of
// deploy/haproxy.cfg's layout: one writer backend, one reader pool).
const (
	writerBackend = "writer"
	readerBackend = "readers"
)

// haproxy is the demo's HAProxy: a writer frontend routed to the master and
// a reader pool, with an admin stats socket for `recoup hook` to switch.
// (test/haproxytest does the same for tests but needs a testing.TB.)
type haproxy struct {
	dir, config, socket, state, log string
	writerAddr                      string // the applications' address for writes
	cmd                             *exec.Cmd
	done                            chan struct{}
}

func startHAProxy(dir, writer string, readers []string) (*haproxy, error) {
	bin, err := lookBin("haproxy")
	if err != nil {
		return nil, fmt.Errorf("haproxy not found: install it (Debian/Ubuntu: apt-get install haproxy)")
	}
	h := &haproxy{dir: dir, config: filepath.Join(dir, "haproxy.cfg"), socket: filepath.Join(dir, "haproxy.sock"),
		state: filepath.Join(dir, "haproxy.state"), log: filepath.Join(dir, "haproxy.log")}
	if h.writerAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `global
    nbthread 1
    stats socket %s mode 600 level admin
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

backend %s
    server db %s

backend %s
    balance roundrobin
`, h.socket, h.state, h.writerAddr, writerBackend, writerBackend, writer, readerBackend)
	for i, r := range readers {
		fmt.Fprintf(&b, "    server r%d %s\n", i+1, r)
	}
	if err := os.WriteFile(h.config, []byte(b.String()), 0o600); err != nil {
		return nil, fmt.Errorf("writing the haproxy config: %w", err)
	}
	out, err := os.Create(h.log)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own descriptor
	h.cmd = exec.Command(bin, "-db", "-f", h.config)
	h.cmd.Dir, h.cmd.Stdout, h.cmd.Stderr = dir, out, out
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := h.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting haproxy: %w", err)
	}
	h.done = make(chan struct{})
	go func() { _ = h.cmd.Wait(); close(h.done) }()
	if err := h.waitReady(); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// waitReady waits for the stats socket to answer "show info".
func (h *haproxy) waitReady() error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-h.done:
			return fmt.Errorf("haproxy exited during startup:\n%s", tail(h.log, 20))
		default:
		}
		out, err := h.command("show info")
		if err == nil && strings.Contains(out, "Name: HAProxy") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy's stats socket did not answer within 20s (%v):\n%s", err, tail(h.log, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// command runs one runtime API command on the stats socket.
func (h *haproxy) command(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", h.socket, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func (h *haproxy) stop() {
	_ = h.cmd.Process.Signal(syscall.SIGTERM) // it may have exited: done says
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
}
