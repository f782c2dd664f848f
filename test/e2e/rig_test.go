package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/hook"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
	"github.com/recoup-dev/recoup/test/haproxytest"
	kafkatest "github.com/recoup-dev/recoup/test/kafka"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// cluster is the test cluster's alias: recoup's cluster name.
const cluster = "shop"

// rig is one topology behind HAProxy, captured by the real streamer, with
// the built recoup binary and its config.
type rig struct {
	t       testing.TB
	topo    *sandbox.Topology
	old     *sandbox.Instance
	hp      *haproxytest.HAProxy
	dir     string
	cfgPath string
	bin     string
	fx      *Fixture
	kafka   string // broker address; "" for the local store
	topic   string
	// hookPassword is the password of deploy/grants.sql's recoup_hook
	// account, which the hook runs as.
	hookPassword string
	// budget is the time settings of the config's hook section.
	budget string
	// admin is the capture daemon's admin address when the capture runs
	// as `recoup stream` (startDaemon), which the hook then tells.
	admin string
	// semiSync: the old master waits for the streamer, a semi-synchronous
	// replica (enableSemiSync).
	semiSync bool
}

// hookGrants returns deploy/grants.sql's statements for the hook's
// account, as written (its schema is app, as here), with a password.
func hookGrants(t testing.TB, pw string) []string {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grants.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "--") || !strings.Contains(line, "'recoup_hook'") {
			continue
		}
		out = append(out, strings.TrimSuffix(strings.ReplaceAll(line, "REPLACE-WITH-HOOK-PASSWORD", pw), ";"))
	}
	if len(out) < 3 {
		t.Fatalf("deploy/grants.sql: %d statements for recoup_hook", len(out))
	}
	return out
}

// newRig starts everything but the streamer, using the recoup binary
// bin. With kafka, the capture log is a topic of the shared test broker.
func newRig(t testing.TB, kafka bool, bin string) *rig {
	fx, err := LoadFixture(filepath.Join("..", "..", FixturePath))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, dir: t.TempDir(), fx: fx, bin: bin, budget: "  deadline: 30s\n"}
	r.topo = sandbox.StartTopology(t, sandbox.Options{Replicas: 2})
	r.old = r.topo.Primary
	r.exec(r.old, "CREATE DATABASE app",
		"CREATE TABLE app.ledger (client INT NOT NULL, n INT NOT NULL, at DATETIME(6) NOT NULL, note VARBINARY(32),"+
			" PRIMARY KEY (client, n))")
	r.hookPassword = randomHex(t, 16)
	r.exec(r.old, hookGrants(t, r.hookPassword)...)
	if err := r.topo.WaitCaughtUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.hp = haproxytest.Start(t, r.old.Addr(), r.topo.Replicas[0].Addr(), r.topo.Replicas[1].Addr())
	if kafka {
		r.kafka = kafkatest.Broker(t).Addr()
		r.topic = "recoup.e2e-" + randomHex(t, 4) + "."
	}
	r.writeConfig()
	return r
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// buildRecoup builds cmd/recoup into the test's temporary directory.
func buildRecoup(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(t.TempDir(), "recoup")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/recoup-dev/recoup/cmd/recoup")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building recoup: %v\n%s", err, out)
	}
	return bin
}

func (r *rig) exec(in *sandbox.Instance, stmts ...string) {
	r.t.Helper()
	for _, q := range stmts {
		if _, err := in.Exec(r.t.Context(), q); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rig) writeConfig() {
	pw, hookPW := filepath.Join(r.dir, "password"), filepath.Join(r.dir, "hook-password")
	if err := os.WriteFile(pw, []byte(r.topo.Password), 0o600); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(hookPW, []byte(r.hookPassword), 0o600); err != nil {
		r.t.Fatal(err)
	}
	store := fmt.Sprintf("store:\n  kind: local\n  local:\n    dir: %s\n", filepath.Join(r.dir, "store"))
	if r.kafka != "" {
		store = fmt.Sprintf("store:\n  kind: kafka\n  kafka:\n    brokers: [%s]\n    topic_prefix: %s\n", r.kafka, r.topic)
	}
	hookAdmin := ""
	if r.admin != "" {
		tok := filepath.Join(r.dir, "admin-token")
		if err := os.WriteFile(tok, []byte(randomHex(r.t, 16)), 0o600); err != nil {
			r.t.Fatal(err)
		}
		store += fmt.Sprintf("admin:\n  listen: %s\n  token_file: %s\n", r.admin, tok)
		hookAdmin = fmt.Sprintf("  admin_url: http://%s\n  admin_token_file: %s\n", r.admin, tok)
	}
	cfg := fmt.Sprintf(`clusters:
  - name: %s
    master: %s
    user: %s
    password_file: %s
    server_id: 4001
%s    compensate:
      user: recoup_hook
      password_file: %s
%slog:
  level: info
hook:
%s%s  report_dir: %s
  proxy:
    kind: haproxy
    haproxy:
      socket: %s
      writer_backend: %s
      reader_backend: %s
      state_file: %s
      config_file: %s
  probe:
    writer_addr: %s
`, cluster, r.old.Addr(), r.topo.User, pw, semiSyncKey(r.semiSync), hookPW, store, r.budget, hookAdmin, filepath.Join(r.dir, "reports"), r.hp.SocketPath,
		haproxytest.WriterBackend, haproxytest.ReaderBackend, r.hp.StateFile, r.hp.ConfigPath, r.hp.FrontendAddr)
	r.cfgPath = filepath.Join(r.dir, "recoup.yaml")
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func semiSyncKey(on bool) string {
	if on {
		return "    semi_sync: true\n"
	}
	return ""
}

// enableSemiSync makes the old master wait, for each commit, until the
// streamer (configured semi_sync) acknowledges it, for up to 10 s; with
// no semi-synchronous replica connected it does not wait.
func (r *rig) enableSemiSync() {
	r.semiSync = true
	r.exec(r.old, "SET GLOBAL rpl_semi_sync_master_wait_no_slave = OFF", "SET GLOBAL rpl_semi_sync_master_timeout = 10000",
		"SET GLOBAL rpl_semi_sync_master_wait_point = 'AFTER_SYNC'", "SET GLOBAL rpl_semi_sync_master_enabled = ON")
	r.writeConfig()
}

// semiSyncStatus reads one of the old master's Rpl_semi_sync_master_*
// status variables.
func (r *rig) semiSyncStatus(name string) string {
	r.t.Helper()
	var v string
	if err := r.old.DB(r.t).QueryRowContext(r.t.Context(),
		"SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?", "RPL_SEMI_SYNC_MASTER_"+name).Scan(&v); err != nil {
		r.t.Fatalf("reading Rpl_semi_sync_master_%s: %v", name, err)
	}
	return v
}

// waitSemiSync waits until the old master waits for the streamer.
func (r *rig) waitSemiSync() {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.semiSyncStatus("CLIENTS") != "1" || r.semiSyncStatus("STATUS") != "ON" {
		if time.Now().After(deadline) {
			r.t.Fatalf("the old master never waited for the streamer: clients %s, status %s",
				r.semiSyncStatus("CLIENTS"), r.semiSyncStatus("STATUS"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openStore opens the capture log: for writing (the streamer) or a
// read-only view.
func (r *rig) openStore(ctx context.Context, write bool) (capture.Store, error) {
	if r.kafka != "" {
		return capture.OpenKafka(ctx, capture.KafkaOptions{Brokers: []string{r.kafka}, Topic: r.topic + cluster,
			Cluster: cluster, Logger: quietLogger()})
	}
	dir := filepath.Join(r.dir, "store", cluster)
	if write {
		return capture.OpenLocal(dir, capture.LocalOptions{Logger: quietLogger()})
	}
	return capture.OpenLocalReadOnly(dir)
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// startStreamer runs the real streamer in-process on the old master and
// returns its stop function (also run at cleanup).
func (r *rig) startStreamer() func() {
	store, err := r.openStore(r.t.Context(), true)
	if err != nil {
		r.t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(r.dir, "stream.log"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { logf.Close() })
	// The streamer's log goes to a file: it reports the master's kill -9
	// as an error, which would garble benchmark output.
	s, err := streamer.New(streamer.Config{Cluster: cluster, Flavor: repl.MariaDB, Master: r.old.Addr(),
		User: r.topo.User, Password: r.topo.Password, ServerID: 4001, ReconnectMax: 500 * time.Millisecond},
		store, slog.New(slog.NewTextHandler(logf, nil)), nil)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			r.t.Errorf("streamer: %v", err)
		}
		if err := store.Close(); err != nil {
			r.t.Error(err)
		}
	}
	r.t.Cleanup(stop)
	return stop
}

// startDaemon runs the capture as the real daemon, `recoup stream`, with
// its admin API on a free loopback port, and rewrites the config so that
// the hook tells it about the failover. It returns the stop function
// (also run at cleanup).
func (r *rig) startDaemon() func() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.t.Fatal(err)
	}
	r.admin = l.Addr().String()
	l.Close()
	r.writeConfig()
	logf, err := os.Create(filepath.Join(r.dir, "stream.log"))
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(r.bin, "stream", "--config", r.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logf.Close() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM) // it may have exited: Wait says
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	r.t.Cleanup(stop)
	r.waitHealthy(done)
	return stop
}

// waitHealthy waits for the daemon's /healthz.
func (r *rig) waitHealthy(exited <-chan error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(r.dir, "stream.log"))
			r.t.Fatalf("recoup stream exited: %v\n%s", err, b)
		default:
		}
		resp, err := http.Get("http://" + r.admin + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, "stream.log"))
	r.t.Fatalf("recoup stream's admin API did not come up:\n%s", b)
}

// waitCaptured waits until the capture log holds want.
func (r *rig) waitCaptured(want repl.GTIDSet) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := r.openStore(r.t.Context(), false); err == nil {
			last, ok, err := st.Last(r.t.Context())
			st.Close()
			if err == nil && ok && want.Subset(last.After) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("capture did not reach %s", want)
}

// proxyDB is a pool connecting through HAProxy's writer frontend; every
// connection is new (no idle reuse), so each is routed afresh.
func (r *rig) proxyDB() *sql.DB {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = r.topo.User, r.topo.Password, "tcp", r.hp.FrontendAddr
	mc.Timeout, mc.ReadTimeout, mc.WriteTimeout = time.Second, 5*time.Second, 5*time.Second
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		r.t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxIdleConns(0)
	r.t.Cleanup(func() { db.Close() })
	return db
}

// hookRun is one execution of `recoup hook`.
type hookRun struct {
	code           int
	stdout, stderr string
	wall           time.Duration
	started        time.Time
}

// runHook execs the built binary as Orchestrator would: the hook command
// line's arguments and the ORC_* environment, nothing else of ours.
func (r *rig) runHook(args, env []string) hookRun {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"hook", "--config", r.cfgPath}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ORC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	hr := hookRun{started: time.Now()}
	err := cmd.Run()
	hr.wall = time.Since(hr.started)
	hr.code = cmd.ProcessState.ExitCode()
	hr.stdout, hr.stderr = out.String(), errb.String()
	if err != nil && hr.code <= 0 {
		r.t.Fatalf("running recoup hook: %v\n%s", err, hr.stderr)
	}
	return hr
}

// runRecord reads the hook's saved summary of recovery uid.
func (r *rig) runRecord(uid string) *hook.Summary {
	r.t.Helper()
	rf := hook.NewRunFile(filepath.Join(r.dir, "reports", "hook-runs"), cluster, uid)
	s, err := rf.Load()
	if err != nil || s == nil {
		r.t.Fatalf("hook run record %s: %v (none: %v)", rf.Path, err, s == nil)
	}
	return s
}

// binlogGTIDs lists the GTIDs in the server's binary logs, in log order.
func binlogGTIDs(ctx context.Context, db *sql.DB) ([]string, error) {
	files, err := columns(ctx, db, "SHOW BINARY LOGS", "Log_name")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		if strings.ContainsAny(f[0], "'\\") {
			return nil, fmt.Errorf("binlog name %q", f[0])
		}
		evs, err := columns(ctx, db, "SHOW BINLOG EVENTS IN '"+f[0]+"'", "Event_type", "Info")
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			if ev[0] == "Gtid" {
				fs := strings.Fields(ev[1])
				out = append(out, fs[len(fs)-1])
			}
		}
	}
	return out, nil
}

// columns runs q and returns the named columns of every row.
func columns(ctx context.Context, db *sql.DB, q string, names ...string) ([][]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(names))
	for i, n := range names {
		if idx[i] = slices.Index(cols, n); idx[i] < 0 {
			return nil, fmt.Errorf("%s: no column %s", q, n)
		}
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(names))
		for i, k := range idx {
			row[i] = vals[k].String
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// jsonOf is v as indented JSON, for failure messages.
func jsonOf(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
