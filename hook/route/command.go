package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"time"
)

// CommandConfig runs an external program for every Router method. Argv
// is run as is (no shell, no substitution); the Event is passed in the
// environment. Exit status 0 is success; for verify, status 1 means "not
// verified". stdout is the answer (state, preflight warnings); stdout and
// stderr are each kept up to 64 KiB, and their tail goes into errors.
type CommandConfig struct {
	Argv    []string      `yaml:"argv"`
	Timeout time.Duration `yaml:"timeout"` // per call, default 30s
}

type commandTransport struct {
	argv    []string
	timeout time.Duration
}

// NewCommand returns the command Router.
func NewCommand(cfg CommandConfig, log *slog.Logger) (*External, error) {
	if len(cfg.Argv) == 0 || cfg.Argv[0] == "" {
		return nil, errors.New("command: argv is empty")
	}
	if !filepath.IsAbs(cfg.Argv[0]) {
		if _, err := exec.LookPath(cfg.Argv[0]); err != nil {
			return nil, fmt.Errorf("command: %w", err)
		}
	}
	t := &commandTransport{argv: append([]string(nil), cfg.Argv...), timeout: cfg.Timeout}
	if t.timeout <= 0 {
		t.timeout = 30 * time.Second
	}
	return &External{t: t, log: log.With("proxy", "command")}, nil
}

func (c *commandTransport) String() string { return "proxy command " + c.argv[0] }

func (c *commandTransport) call(ctx context.Context, ev Event) ([]byte, error) {
	res, err := runCommand(ctx, c.argv, ev.env(), c.timeout)
	var ee *ExitError
	if errors.As(err, &ee) && ee.Code == 1 {
		return nil, fmt.Errorf("%w: %w", errDeclined, err)
	}
	if err != nil {
		return nil, err
	}
	return res.stdout, nil
}
