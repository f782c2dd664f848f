package route

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// maxOutput bounds what is kept of a command's stdout and of its stderr.
const maxOutput = 64 << 10

// capBuffer keeps the first max bytes written and counts the rest.
type capBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (c *capBuffer) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if room >= len(p) {
		return c.buf.Write(p)
	}
	if room > 0 {
		c.buf.Write(p[:room])
	}
	c.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}

// tail returns the last n bytes kept, for error messages.
func (c *capBuffer) tail(n int) string {
	b := c.buf.Bytes()
	s := ""
	if len(b) > n {
		b, s = b[len(b)-n:], "..."
	}
	s += strings.TrimSpace(string(b))
	if c.dropped > 0 {
		s += fmt.Sprintf(" [%d more bytes dropped]", c.dropped)
	}
	return s
}

// runResult is a finished command.
type runResult struct {
	stdout []byte
	exit   int // -1 when it did not exit normally
}

// ExitError is a command that ran and exited non-zero; Output holds the
// tail of its stderr (or stdout when stderr was empty).
type ExitError struct {
	Argv0  string
	Code   int
	Output string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s exited with status %d: %s", e.Argv0, e.Code, e.Output)
}

// runCommand runs argv (no shell) with env added to this process's
// environment (minus inherited RECOUP_* variables), within timeout. The
// command runs in its own process group, killed as a whole on timeout.
func runCommand(ctx context.Context, argv, env []string, timeout time.Duration) (runResult, error) {
	if len(argv) == 0 || argv[0] == "" {
		return runResult{exit: -1}, errors.New("empty command")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr capBuffer
	stdout.max, stderr.max = maxOutput, maxOutput
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second // children holding the pipes do not block Wait
	err := cmd.Run()
	res := runResult{stdout: stdout.buf.Bytes(), exit: cmd.ProcessState.ExitCode()}
	if err == nil {
		return res, nil
	}
	out := stderr.tail(4096)
	if out == "" {
		out = stdout.tail(4096)
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("running %s: %w (output: %s)", argv[0], ctx.Err(), out)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && res.exit > 0 {
		return res, &ExitError{Argv0: argv[0], Code: res.exit, Output: out}
	}
	return res, fmt.Errorf("running %s: %w (output: %s)", argv[0], err, out)
}

// cleanEnv is this process's environment without RECOUP_* variables, so a
// command sees only the ones set for it.
func cleanEnv() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "RECOUP_") {
			out = append(out, kv)
		}
	}
	return out
}
