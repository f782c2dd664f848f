// Command sandboxctl starts and stops a MariaDB sandbox topology that
// outlives it, for `make sandbox-up`, `make sandbox-down` and the demo.
//
//	sandboxctl up [-replicas 2] [-dir .sandbox] [-set option=value ...]
//	sandboxctl status [-dir .sandbox]
//	sandboxctl down [-dir .sandbox]
//
// up writes the topology's state (ports, pids, datadirs) to
// DIR/sandbox.json and the password to DIR/password (mode 0600); the
// password is never printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/recoup-dev/recoup/test/sandbox"
)

const usage = `usage:
  sandboxctl up [-replicas 2] [-dir .sandbox] [-set option=value ...]
  sandboxctl status [-dir .sandbox]
  sandboxctl down [-dir .sandbox]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandboxctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("missing command\n" + usage)
	}
	fs := flag.NewFlagSet("sandboxctl "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".sandbox", "directory for the datadirs and the state file")
	replicas := fs.Int("replicas", 2, "number of replicas (up)")
	settings := map[string]string{}
	fs.Func("set", "server option=value for every instance, repeatable (up)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("want option=value, got %q", s)
		}
		settings[k] = v
		return nil
	})
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "up":
		return up(ctx, *dir, sandbox.Options{Replicas: *replicas, Settings: settings}, stdout, stderr)
	case "down":
		return down(ctx, *dir, stdout)
	case "status":
		return status(ctx, *dir, stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func up(ctx context.Context, dir string, opts sandbox.Options, stdout, stderr io.Writer) error {
	if _, err := sandbox.ReadState(dir); err == nil {
		return fmt.Errorf("a sandbox is already described in %s: run sandboxctl down -dir %s first", dir, dir)
	}
	opts.Dir, opts.Detach = dir, true
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()
	topo, err := sandbox.Launch(ctx, opts)
	if err != nil {
		return err
	}
	if err := topo.WriteState(dir); err != nil {
		return errors.Join(err, topo.Close())
	}
	fmt.Fprintf(stdout, "sandbox up in %v: user %s, password in %s\n",
		time.Since(start).Round(time.Millisecond), topo.User, filepath.Join(topo.Dir, sandbox.PasswordFile))
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tROLE\tADDRESS\tPID\tDATADIR")
	for _, in := range topo.State().Instances {
		fmt.Fprintf(w, "%s\t%s\t%s:%d\t%d\t%s\n", in.Name, in.Role, in.Host, in.Port, in.PID, in.DataDir)
	}
	return w.Flush()
}

func down(ctx context.Context, dir string, stdout io.Writer) error {
	if _, err := sandbox.ReadState(dir); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "no sandbox in %s\n", dir)
		return nil
	}
	if err := sandbox.Down(ctx, dir); err != nil {
		return err
	}
	_ = os.Remove(dir) // only if empty; a non-empty dir holds the user's own files
	fmt.Fprintf(stdout, "sandbox in %s stopped and removed\n", dir)
	return nil
}

func status(ctx context.Context, dir string, stdout io.Writer) error {
	topo, err := sandbox.Attach(dir, nil)
	if err != nil {
		return err
	}
	defer topo.Close() // only closes connection pools
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tROLE\tADDRESS\tPID\tSTATE\tGTID_BINLOG_POS\tREPLICATION")
	roles := map[*sandbox.Instance]string{topo.Primary: "primary"}
	for _, r := range topo.Replicas {
		roles[r] = "replica"
	}
	for _, in := range topo.Instances() {
		role := roles[in]
		if role == "" {
			role = "former"
		}
		state, gtid, rs := describe(ctx, in)
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", in.Name, role, in.Addr(), in.PID(), state, gtid, rs)
	}
	return w.Flush()
}

// describe reports whether in answers, its gtid_binlog_pos and its
// replication threads; failures are shown, not fatal.
func describe(ctx context.Context, in *sandbox.Instance) (state, gtid, replication string) {
	if !in.Running() {
		return "down", "-", "-"
	}
	pos, err := in.GTIDBinlogPos(ctx)
	if err != nil {
		return "unreachable: " + err.Error(), "-", "-"
	}
	gtid = pos.String()
	if gtid == "" {
		gtid = "(empty)"
	}
	st, err := in.ReplicaStatus(ctx)
	switch {
	case err != nil:
		replication = "error: " + err.Error()
	case !st.Configured:
		replication = "-"
	default:
		replication = fmt.Sprintf("from :%d io=%s sql=%s", st.MasterPort, st.IORunning, st.SQLRunning)
		if st.LastIOError != "" || st.LastSQLError != "" {
			replication += fmt.Sprintf(" err=%q", st.LastIOError+st.LastSQLError)
		}
	}
	return "up", gtid, replication
}
