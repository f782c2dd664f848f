package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/test/sandbox"
)

// env is what every measure shares: the MariaDB primary, the Kafka broker
// and the credential files of the command-line tools.
type env struct {
	o         options
	work      string
	storeDir  string // parent of the local stores
	topo      *sandbox.Topology
	primary   *sandbox.Instance
	db        *sql.DB
	version   string
	broker    *broker // nil when Kafka is external or not measured
	kafkaAddr string
	sbConfig  string // sysbench --config-file
	myConfig  string // mariadb-binlog --defaults-extra-file
	nextID    uint32 // last replica server_id handed out
}

// checkTools fails with the install hint of the first missing tool.
func checkTools(o options) error {
	tools := map[string]string{
		"sysbench":       "apt-get install -y sysbench",
		"mariadb-binlog": "apt-get install -y mariadb-client",
	}
	if slicesContains(o.stores, "kafka") && os.Getenv("RECOUP_KAFKA_ADDR") == "" {
		tools["java"] = "apt-get install -y openjdk-17-jre-headless, then make kafka-fetch"
		if _, err := os.Stat(o.kafkaScript); err != nil {
			return fmt.Errorf("kafka.sh not found at %s (run from the repository root, or set -kafka-script): %w", o.kafkaScript, err)
		}
	}
	for tool, hint := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: %s", tool, hint)
		}
	}
	return nil
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// setup starts the servers, writes the credential files and prepares the
// sysbench tables. On error everything started is stopped.
func setup(ctx context.Context, o options, work string) (e *env, err error) {
	e = &env{o: o, work: work, storeDir: work}
	if o.storeDir != "" {
		if e.storeDir, err = os.MkdirTemp(o.storeDir, "recoup-bench-stores-"); err != nil {
			return e, fmt.Errorf("creating the store directory: %w", err)
		}
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.close())
		}
	}()
	fmt.Println("starting a MariaDB primary on 127.0.0.1 ...")
	if e.topo, err = sandbox.Launch(ctx, sandbox.Options{}); err != nil {
		return e, err
	}
	e.primary = e.topo.Primary
	if e.db, err = e.primary.Pool(); err != nil {
		return e, err
	}
	if err = e.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&e.version); err != nil {
		return e, fmt.Errorf("reading the server version: %w", err)
	}
	if slicesContains(o.stores, "kafka") {
		if e.kafkaAddr = os.Getenv("RECOUP_KAFKA_ADDR"); e.kafkaAddr == "" {
			fmt.Println("starting a Kafka broker on 127.0.0.1 (test/kafka/kafka.sh run) ...")
			if e.broker, err = startBroker(ctx, o.kafkaScript, filepath.Join(work, "kafka")); err != nil {
				return e, err
			}
			e.kafkaAddr = e.broker.addr
		}
	}
	if err = e.writeCredentials(); err != nil {
		return e, err
	}
	fmt.Printf("sysbench oltp_write_only prepare: %d tables of %d rows ...\n", o.tables, o.tableSize)
	if _, err = e.db.ExecContext(ctx, "CREATE DATABASE sbtest"); err != nil {
		return e, fmt.Errorf("creating the sysbench schema: %w", err)
	}
	if _, err = e.sysbench(ctx, "prepare"); err != nil {
		return e, err
	}
	return e, nil
}

// writeCredentials writes the sysbench config file and the mariadb client
// option file, mode 0600.
func (e *env) writeCredentials() error {
	p := e.primary
	e.sbConfig = filepath.Join(e.work, "sysbench.cfg")
	sb := fmt.Sprintf("mysql-host=%s\nmysql-port=%d\nmysql-user=%s\nmysql-password=%s\nmysql-db=sbtest\n",
		p.Host, p.Port, p.User, p.Password)
	if err := os.WriteFile(e.sbConfig, []byte(sb), 0o600); err != nil {
		return fmt.Errorf("writing the sysbench config: %w", err)
	}
	e.myConfig = filepath.Join(e.work, "client.cnf")
	my := fmt.Sprintf("[client]\nhost=%s\nport=%d\nuser=%s\npassword=%s\n", p.Host, p.Port, p.User, p.Password)
	if err := os.WriteFile(e.myConfig, []byte(my), 0o600); err != nil {
		return fmt.Errorf("writing the client option file: %w", err)
	}
	return nil
}

// sysbench runs one oltp_write_only command and returns its output.
func (e *env) sysbench(ctx context.Context, command string, extra ...string) (string, error) {
	args := append([]string{"--config-file=" + e.sbConfig, "oltp_write_only",
		"--tables=" + strconv.Itoa(e.o.tables), "--table-size=" + strconv.Itoa(e.o.tableSize)}, extra...)
	args = append(args, command)
	out, err := exec.CommandContext(ctx, "sysbench", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("sysbench oltp_write_only %s: %w\n%s", command, err, tail(out, 2000))
	}
	return string(out), nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// serverID hands out a fresh replica server_id for a streamer.
func (e *env) serverID() uint32 {
	e.nextID++
	return 7000 + e.nextID
}

func (e *env) close() error {
	var errs []error
	if e.broker != nil {
		errs = append(errs, e.broker.stop())
	}
	if e.topo != nil {
		errs = append(errs, e.topo.Close())
	}
	if e.storeDir != e.work && !e.o.keep {
		errs = append(errs, os.RemoveAll(e.storeDir))
	}
	return errors.Join(errs...)
}

// warnings counts the streamers' log records (Warn and above) but the
// expected one about the single-broker topic.
func (e *env) warnings() int {
	b, err := os.ReadFile(filepath.Join(e.work, "streamer.log"))
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) > 0 && !bytes.Contains(line, []byte("does not survive the loss of a broker")) {
			n++
		}
	}
	return n
}

// printLogTail prints the end of the streamers' log.
func (e *env) printLogTail() {
	b, err := os.ReadFile(filepath.Join(e.work, "streamer.log"))
	if err != nil || len(b) == 0 {
		return
	}
	fmt.Printf("\nstreamer warnings (%d lines), last ones:\n%s", bytes.Count(b, []byte("\n")), tail(b, 3000))
}

// header prints what the figures were measured on.
func (e *env) header() {
	fmt.Printf("\nrecoup capture benchmark: MariaDB %s (datadir %s), %d CPUs, load average %s\n",
		e.version, e.primary.DataDir, runtime.NumCPU(), loadAverage())
	fmt.Printf("local store under %s (%s), %s\n", e.storeDir, fsType(e.storeDir), fsyncProbe(e.storeDir))
	if e.kafkaAddr != "" {
		fmt.Printf("Kafka at %s (1 broker, topic replication factor 1, acks=all)\n", e.kafkaAddr)
	}
}

// fsType names the file system holding dir.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "file system unknown"
	}
	names := map[int64]string{0xEF53: "ext4", 0x01021994: "tmpfs", 0x58465342: "xfs", 0x9123683E: "btrfs",
		0x794c7630: "overlayfs", 0x2FC12FC1: "zfs"}
	if n, ok := names[int64(st.Type)]; ok {
		return n
	}
	return fmt.Sprintf("file system 0x%x", st.Type)
}

// fsyncProbe times 100 appends of 4 KiB, each followed by fsync, in dir:
// the floor under the local store's group commit.
func fsyncProbe(dir string) string {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return "fsync probe failed: " + err.Error()
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var ds []time.Duration
	for range 100 {
		began := time.Now()
		if _, err := f.Write(buf); err != nil {
			return "fsync probe failed: " + err.Error()
		}
		if err := f.Sync(); err != nil {
			return "fsync probe failed: " + err.Error()
		}
		ds = append(ds, time.Since(began))
	}
	return fmt.Sprintf("4 KiB write+fsync p50 %s, p99 %s", ms(pct(ds, 0.5)), ms(pct(ds, 0.99)))
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
