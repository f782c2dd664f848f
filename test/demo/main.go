// Command demo is `make demo`: the whole story recoup exists for.
//
// On 127.0.0.1 it starts a MariaDB master with two replicas behind
// HAProxy, runs `recoup stream` on the embedded local store, writes through
// the proxy, cuts replication, commits more transactions on the master
// alone (the ones a plain failover loses) and kills it with SIGKILL. It
// then promotes a replica as Orchestrator does, makes the new master change
// a row one lost transaction touched (a deliberate conflict), and runs
// `recoup hook` with exactly the arguments and ORC_* environment
// Orchestrator 3.2.6 passes to PostFailoverProcesses. It prints what the
// failover lost, what recoup restored (checked on the new master), the
// conflict, the time until writes opened and where the HTML report is.
//
// It removes everything it started except the report, which it copies to
// -report (replaced on every run), and can run again.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/test/e2e"
	"github.com/recoup-dev/recoup/test/haproxytest"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// cluster is the demo cluster's Orchestrator alias: recoup's cluster name.
const cluster = "shop"

type options struct {
	bin       string
	txns      int    // transactions replicated before the cut
	lost      int    // transactions committed on the master alone
	reportDir string // where the report is kept
}

func main() {
	var o options
	flag.StringVar(&o.bin, "recoup", "bin/recoup", "the recoup binary")
	flag.IntVar(&o.txns, "txns", 2000, "transactions written before replication is cut")
	flag.IntVar(&o.lost, "lost", 500, "transactions committed on the master after the cut (at least 2)")
	flag.StringVar(&o.reportDir, "report", "demo-report", "directory the failover report is copied to (replaced)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	_ = mysql.SetLogger(quietMySQL{}) // the killed master breaks pooled connections
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

type quietMySQL struct{}

func (quietMySQL) Print(...any) {}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

// preflight checks what the demo needs before starting anything.
func preflight(o options) (*e2e.Fixture, error) {
	var missing []string
	if _, err := lookBin("mariadbd"); err != nil {
		missing = append(missing, "mariadbd and mariadb-install-db (Debian/Ubuntu: apt-get install mariadb-server)")
	}
	if _, err := lookBin("haproxy"); err != nil {
		missing = append(missing, "haproxy (Debian/Ubuntu: apt-get install haproxy)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing: %s", strings.Join(missing, "; "))
	}
	if _, err := os.Stat(o.bin); err != nil {
		return nil, fmt.Errorf("the recoup binary: %w (run `make demo`, which builds it)", err)
	}
	if o.lost < 2 || o.txns < 1 {
		return nil, errors.New("-txns must be at least 1 and -lost at least 2")
	}
	return e2e.LoadFixture(e2e.FixturePath)
}

func lookBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// env is everything the demo started.
type env struct {
	o     options
	fx    *e2e.Fixture
	topo  *sandbox.Topology
	work  string
	cfg   string
	admin string
	hp    *haproxytest.HAProxy
	d     *daemon
}

func run(ctx context.Context, o options) (err error) {
	begin := time.Now()
	fx, err := preflight(o)
	if err != nil {
		return err
	}
	e := &env{o: o, fx: fx}
	step("starting a MariaDB master and 2 replicas on 127.0.0.1")
	if e.topo, err = sandbox.Launch(ctx, sandbox.Options{Replicas: 2}); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, e.topo.Close()) }()
	for _, in := range e.topo.Instances() {
		fmt.Printf("    %s %s server_id=%d\n", in.Name, in.Addr(), in.ServerID)
	}
	if e.work, err = os.MkdirTemp("", "recoup-demo-"); err != nil {
		return err
	}
	defer os.RemoveAll(e.work)
	hookPW := randomHex(16)
	if err := e.setupSchema(ctx, hookPW); err != nil {
		return err
	}
	replicas := []string{e.topo.Replicas[0].Addr(), e.topo.Replicas[1].Addr()}
	e.hp, err = haproxytest.Launch(ctx, e.work, e.topo.Primary.Addr(), replicas...)
	if e.hp != nil {
		defer e.hp.Stop()
	}
	if err != nil {
		return err
	}
	fmt.Printf("    HAProxy: applications write to %s (writer backend -> %s)\n", e.hp.FrontendAddr, e.topo.Primary.Addr())
	if err := e.writeConfig(hookPW); err != nil {
		return err
	}
	step("recoup stream --config %s (local store, admin API on %s)", e.cfg, e.admin)
	if e.d, err = startStream(o.bin, e.cfg, e.work); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, e.d.stop()) }()
	if err := e.d.waitHealthy(ctx, e.admin); err != nil {
		return err
	}
	res, err := e.story(ctx)
	if err != nil {
		return err
	}
	res.print()
	if err := res.verify(); err != nil {
		return err
	}
	step("done in %s; cleaning up (servers, HAProxy, recoup stream, %s)", time.Since(begin).Round(time.Millisecond), e.work)
	return nil
}

// setupSchema creates the application table and deploy/grants.sql's
// account for the hook, as written there (schema app).
func (e *env) setupSchema(ctx context.Context, hookPW string) error {
	b, err := os.ReadFile(filepath.Join("deploy", "grants.sql"))
	if err != nil {
		return fmt.Errorf("reading deploy/grants.sql (run the demo from the repository root): %w", err)
	}
	stmts := []string{"CREATE DATABASE app",
		"CREATE TABLE app.orders (id BIGINT UNSIGNED PRIMARY KEY AUTO_INCREMENT, amount DECIMAL(12,2) NOT NULL," +
			" note VARCHAR(64), at DATETIME(6) NOT NULL)"}
	n := len(stmts)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "--") && strings.Contains(line, "'recoup_hook'") {
			stmts = append(stmts, strings.TrimSuffix(strings.ReplaceAll(line, "REPLACE-WITH-HOOK-PASSWORD", hookPW), ";"))
		}
	}
	if len(stmts)-n < 3 {
		return fmt.Errorf("deploy/grants.sql: %d statements for recoup_hook", len(stmts)-n)
	}
	for _, q := range stmts {
		if _, err := e.topo.Primary.Exec(ctx, q); err != nil {
			return fmt.Errorf("setting up the schema: %w", err)
		}
	}
	return e.topo.WaitCaughtUp(ctx)
}

// writeConfig writes recoup.yaml: capture on the local store, the daemon's
// admin API on a free loopback port (the hook tells it the new master),
// the hook's HAProxy and the compensation account. Passwords and the
// admin token are in files, never on a command line.
func (e *env) writeConfig(hookPW string) error {
	var err error
	if e.admin, err = freeAddr(); err != nil {
		return err
	}
	files := map[string]string{"password": e.topo.Password, "hook-password": hookPW, "admin-token": randomHex(16)}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(e.work, name), []byte(v+"\n"), 0o600); err != nil {
			return err
		}
	}
	p := func(name string) string { return filepath.Join(e.work, name) }
	cfg := fmt.Sprintf(`clusters:
  - name: %s
    flavor: mariadb
    master: %s
    user: %s
    password_file: %s
    server_id: 9001
    schemas: [app]
    compensate:
      user: recoup_hook
      password_file: %s
      policy: report
store:
  kind: local
  local:
    dir: %s
admin:
  listen: %s
  token_file: %s
log:
  level: info
hook:
  deadline: 30s
  report_dir: %s
  admin_url: http://%s
  admin_token_file: %s
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
`, cluster, e.topo.Primary.Addr(), e.topo.User, p("password"), p("hook-password"), p("store"), e.admin, p("admin-token"),
		p("reports"), e.admin, p("admin-token"), e.hp.SocketPath, haproxytest.WriterBackend, haproxytest.ReaderBackend, e.hp.StateFile,
		e.hp.ConfigPath, e.hp.FrontendAddr)
	e.cfg = p("recoup.yaml")
	return os.WriteFile(e.cfg, []byte(cfg), 0o600)
}

// appDB is a pool of the application's connections: through HAProxy.
func (e *env) appDB() (*sql.DB, error) {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = e.topo.User, e.topo.Password, "tcp", e.hp.FrontendAddr
	mc.Timeout, mc.ReadTimeout, mc.WriteTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}
