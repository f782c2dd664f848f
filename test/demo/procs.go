package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// freeAddr returns a 127.0.0.1 address whose port is free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on Linux
	return hex.EncodeToString(b)
}

// daemon is the running `recoup stream`.
type daemon struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

func startStream(bin, cfg, dir string) (*daemon, error) {
	d := &daemon{log: filepath.Join(dir, "stream.log"), done: make(chan error, 1)}
	f, err := os.Create(d.log)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	d.cmd = exec.Command(bin, "stream", "--config", cfg)
	d.cmd.Stdout, d.cmd.Stderr = f, f
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	return d, nil
}

func (d *daemon) running() bool {
	select {
	case err := <-d.done:
		d.done <- err
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to 10s, then kills.
func (d *daemon) stop() error {
	_ = d.cmd.Process.Signal(syscall.SIGTERM) // it may have exited: done says
	select {
	case err := <-d.done:
		if err != nil {
			return fmt.Errorf("recoup stream exited: %w\n%s", err, tail(d.log, 20))
		}
		return nil
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		return fmt.Errorf("recoup stream did not stop within 10s of SIGTERM")
	}
}

// waitHealthy waits for the daemon's /healthz on its admin address.
func (d *daemon) waitHealthy(ctx context.Context, admin string) error {
	return poll(ctx, 30*time.Second, func() (bool, error) {
		if !d.running() {
			return false, fmt.Errorf("recoup stream exited:\n%s", tail(d.log, 20))
		}
		resp, err := http.Get("http://" + admin + "/healthz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

type streamStatus struct {
	Records  int64
	Captured string
	Master   string
}

// status is `recoup status --json` of the demo's one cluster.
func status(ctx context.Context, bin, cfg string) (streamStatus, error) {
	var st streamStatus
	out, err := exec.CommandContext(ctx, bin, "status", "--config", cfg, "--json").Output()
	if err != nil {
		return st, fmt.Errorf("recoup status: %w", err)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("recoup status --json: %w: %s", err, out)
	}
	return st, nil
}

// waitCaptured waits until `recoup status` says the capture log holds want.
func (d *daemon) waitCaptured(ctx context.Context, bin, cfg string, want repl.GTIDSet) error {
	last := ""
	err := poll(ctx, 60*time.Second, func() (bool, error) {
		if !d.running() {
			return false, fmt.Errorf("recoup stream exited:\n%s", tail(d.log, 20))
		}
		st, err := status(ctx, bin, cfg)
		if err != nil {
			return false, nil
		}
		last = st.Captured
		got, err := repl.ParseGTIDSet(repl.MariaDB, st.Captured)
		return err == nil && st.Records > 0 && want.Subset(got), nil
	})
	if err != nil {
		return fmt.Errorf("capture of %s (last status: captured %q): %w\nstream log:\n%s", want.Position(), last, err, tail(d.log, 20))
	}
	return nil
}

// poll runs f every 50ms until it says done, fails, or limit passes.
func poll(ctx context.Context, limit time.Duration, f func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		done, err := f()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// hookRun is one execution of `recoup hook`.
type hookRun struct {
	code           int
	stdout, stderr string
	wall           time.Duration
}

// runHook execs the binary as Orchestrator would: the hook command line's
// arguments and the ORC_* environment, no ORC_* variable of ours.
func runHook(ctx context.Context, bin, cfg string, args, env []string) (hookRun, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"hook", "--config", cfg}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ORC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	hr := hookRun{wall: time.Since(start), code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	if err != nil && hr.code <= 0 {
		return hr, fmt.Errorf("running recoup hook: %w\n%s", err, hr.stderr)
	}
	return hr, nil
}

func show(ctx context.Context, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
