// Command demo is `make demo`: recoup's main job on the embedded default.
//
// It starts a 3-node MariaDB sandbox on 127.0.0.1, runs `recoup stream` on
// the local store, drives a write load on the primary, waits until capture
// holds every committed transaction, then prints `recoup status` and the
// last captured transactions from `recoup log`. It removes everything it
// started, and can run again.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

func main() {
	bin := flag.String("recoup", "bin/recoup", "the recoup binary")
	txns := flag.Int("txns", 2000, "transactions to write")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *bin, *txns)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func run(ctx context.Context, bin string, txns int) (err error) {
	begin := time.Now()
	step("starting a MariaDB primary and 2 replicas on 127.0.0.1")
	topo, err := sandbox.Launch(ctx, sandbox.Options{Replicas: 2})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, topo.Close()) }()
	for _, in := range topo.Instances() {
		fmt.Printf("    %s %s server_id=%d\n", in.Name, in.Addr(), in.ServerID)
	}
	work, err := os.MkdirTemp("", "recoup-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cfgPath, err := writeConfig(work, topo)
	if err != nil {
		return err
	}
	step("recoup stream --config %s (local store in %s)", cfgPath, filepath.Join(work, "store"))
	stream, streamLog, err := startStream(bin, cfgPath, work)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopStream(stream, streamLog)) }()

	if err := waitConnected(ctx, bin, cfgPath, stream); err != nil {
		return fmt.Errorf("%w\nstream log:\n%s", err, tail(streamLog, 20))
	}
	db, err := sql.Open("mysql", topo.Primary.DSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	step("writing %d transactions on the primary", txns)
	if err := writeLoad(ctx, db, txns); err != nil {
		return err
	}
	want, err := topo.Primary.GTIDBinlogPos(ctx)
	if err != nil {
		return err
	}
	step("waiting until capture holds %s", want.Position())
	if err := waitCaptured(ctx, bin, cfgPath, want, stream); err != nil {
		return fmt.Errorf("%w\nstream log:\n%s", err, tail(streamLog, 20))
	}
	step("recoup status")
	if err := show(ctx, bin, "status", "--config", cfgPath); err != nil {
		return err
	}
	step("recoup log --cluster demo (last 2 transactions)")
	out, err := exec.CommandContext(ctx, bin, "log", "--config", cfgPath, "--cluster", "demo").Output()
	if err != nil {
		return fmt.Errorf("recoup log: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	fmt.Printf("    %d records captured; the last two:\n", len(lines))
	for _, l := range lines[max(0, len(lines)-2):] {
		fmt.Println("   ", l)
	}
	step("done in %s; cleaning up", time.Since(begin).Round(time.Millisecond))
	return nil
}

func writeConfig(dir string, topo *sandbox.Topology) (string, error) {
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte(topo.Password+"\n"), 0o600); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`clusters:
  - name: demo
    flavor: mariadb
    master: %s
    user: %s
    password_file: %s
    server_id: 9001
store:
  kind: local
  local:
    dir: %s
admin:
  listen: %s
`, topo.Primary.Addr(), topo.User, pw, filepath.Join(dir, "store"), freeAddr())
	p := filepath.Join(dir, "recoup.yaml")
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

// freeAddr returns a free 127.0.0.1 port for the admin endpoint.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:7878"
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startStream(bin, cfg, dir string) (*exec.Cmd, string, error) {
	logPath := filepath.Join(dir, "stream.log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "stream", "--config", cfg)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("start %s: %w", bin, err)
	}
	f.Close()
	return cmd, logPath, nil
}

func stopStream(cmd *exec.Cmd, logPath string) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("recoup stream exited: %w\n%s", err, tail(logPath, 20))
		}
		return nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return fmt.Errorf("recoup stream did not stop within 10s of SIGTERM")
	}
}

func writeLoad(ctx context.Context, db *sql.DB, n int) error {
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS demo",
		"CREATE TABLE IF NOT EXISTS demo.orders (id BIGINT UNSIGNED PRIMARY KEY AUTO_INCREMENT, amount DECIMAL(12,2) NOT NULL, note VARCHAR(64), at DATETIME(6) NOT NULL)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := db.ExecContext(ctx, "INSERT INTO demo.orders (amount, note, at) VALUES (?, ?, NOW(6))",
			fmt.Sprintf("%d.%02d", i, i%100), fmt.Sprintf("order %d", i)); err != nil {
			return fmt.Errorf("insert %d: %w", i, err)
		}
		if i%10 == 9 {
			if _, err := db.ExecContext(ctx, "UPDATE demo.orders SET note = CONCAT(note, ' paid') WHERE id = ?", i-4); err != nil {
				return fmt.Errorf("update: %w", err)
			}
		}
	}
	fmt.Printf("    %d transactions in %s\n", n+n/10, time.Since(start).Round(time.Millisecond))
	return nil
}

// waitConnected waits for the streamer's first record: it writes one when
// it connects, and capture starts at the master's position at that moment.
func waitConnected(ctx context.Context, bin, cfg string, stream *exec.Cmd) error {
	return pollStatus(ctx, bin, cfg, stream, "connect to the master", func(st streamStatus) bool { return st.Records > 0 })
}

func waitCaptured(ctx context.Context, bin, cfg string, want repl.GTIDSet, stream *exec.Cmd) error {
	return pollStatus(ctx, bin, cfg, stream, "capture "+want.Position(), func(st streamStatus) bool {
		got, err := repl.ParseGTIDSet(repl.MariaDB, st.Captured)
		return err == nil && want.Subset(got)
	})
}

type streamStatus struct {
	Records  int64
	Captured string
}

// pollStatus runs `recoup status --json` until done says yes, for at most 60s.
func pollStatus(ctx context.Context, bin, cfg string, stream *exec.Cmd, what string, done func(streamStatus) bool) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if stream.ProcessState != nil || stream.Process.Signal(syscall.Signal(0)) != nil {
			return fmt.Errorf("recoup stream is not running")
		}
		out, err := exec.CommandContext(ctx, bin, "status", "--config", cfg, "--json").Output()
		var st streamStatus
		if err == nil && json.Unmarshal(out, &st) == nil && done(st) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("recoup stream did not %s within 60s (last status: %s)", what, strings.TrimSpace(string(out)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
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
