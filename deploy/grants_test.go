package deploy_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/test/sandbox"
)

// grantsFile is the file users run; the test runs it verbatim but for the
// passwords.
const grantsFile = "grants.sql"

// role is one account of grants.sql.
type role struct {
	user   string
	grants []grantLine
}

// grantLine is one GRANT statement: privileges on a target (*.* or a
// schema's tables).
type grantLine struct {
	privs  []string
	target string
}

var (
	createRE   = regexp.MustCompile(`^CREATE USER '([a-z_]+)'@'%' IDENTIFIED BY '(REPLACE-WITH-[A-Z]+-PASSWORD)'$`)
	grantRE    = regexp.MustCompile("^GRANT ([A-Z_ ,]+) ON (\\*\\.\\*|`[a-z_]+`\\.\\*) TO '([a-z_]+)'@'%'$")
	passwordRE = regexp.MustCompile(`REPLACE-WITH-[A-Z]+-PASSWORD`)
)

// loadGrants returns grants.sql's statements (comments dropped, passwords
// replaced by pw) and its accounts. Any statement other than CREATE USER
// and GRANT in the shapes above fails the test: the file must stay
// something this test fully checks.
func loadGrants(t *testing.T, pw string) ([]string, map[string]*role) {
	t.Helper()
	roles := map[string]*role{}
	var stmts []string
	for _, s := range sqlFile(t, grantsFile) {
		switch m, g := createRE.FindStringSubmatch(s), grantRE.FindStringSubmatch(s); {
		case m != nil:
			roles[m[1]] = &role{user: m[1]}
		case g != nil && roles[g[3]] != nil:
			var privs []string
			for _, p := range strings.Split(g[1], ",") {
				privs = append(privs, strings.TrimSpace(p))
			}
			roles[g[3]].grants = append(roles[g[3]].grants, grantLine{privs: privs, target: g[2]})
		default:
			t.Fatalf("%s: statement not understood by the test: %s", grantsFile, s)
		}
		stmts = append(stmts, passwordRE.ReplaceAllLiteralString(s, pw))
	}
	if roles["recoup_stream"] == nil || roles["recoup_hook"] == nil {
		t.Fatalf("%s must create recoup_stream and recoup_hook, has %v", grantsFile, roles)
	}
	return stmts, roles
}

// sqlFile reads the statements of a deploy/*.sql file: "--" comment lines
// dropped, statements split at ';' (the files hold none inside strings).
func sqlFile(t *testing.T, path string) []string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var lines, stmts []string
	for _, l := range strings.Split(string(text), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			lines = append(lines, l)
		}
	}
	for _, s := range strings.Split(strings.Join(lines, " "), ";") {
		if s = strings.TrimSpace(s); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}

// grantStatements renders r's grants for user, leaving out privilege
// skip on target skipTarget ("" for none).
func (r *role) grantStatements(user, skip, skipTarget string) []string {
	var out []string
	for _, g := range r.grants {
		var privs []string
		for _, p := range g.privs {
			if p != skip || g.target != skipTarget {
				privs = append(privs, p)
			}
		}
		if len(privs) > 0 {
			out = append(out, fmt.Sprintf("GRANT %s ON %s TO '%s'@'%%'", strings.Join(privs, ", "), g.target, user))
		}
	}
	return out
}

// rig is the test topology: old is the master that fails, nm the replica
// Orchestrator promotes.
type rig struct {
	old, nm *sandbox.Instance
	pw      string
	victims int // app_client connections opened so far
	ids     int // rows inserted by probes
}

func newPassword(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// connect opens one pinned connection as user to in; its session state
// (SET SESSION, transactions) is the test's.
func (r *rig) connect(t *testing.T, in *sandbox.Instance, user string) *sql.Conn {
	t.Helper()
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = user, r.pw, "tcp", in.Addr()
	c.Timeout = 5 * time.Second
	connector, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatalf("connector for %s: %v", user, err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatalf("connecting as %s to %s: %v", user, in.Name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func mustExec(t *testing.T, ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := q.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", passwordRE.ReplaceAllLiteralString(s, "***"), err)
		}
	}
}

// setupRig starts a master and a replica, creates the schema, runs
// grants.sql, creates one account per (role, privilege) lacking just that
// privilege, and an application account; the replica is read_only.
func setupRig(t *testing.T) (*rig, map[string]string) {
	t.Helper()
	topo := sandbox.StartTopology(t, sandbox.Options{Replicas: 1})
	r := &rig{old: topo.Primary, nm: topo.Replicas[0], pw: newPassword(t)}
	ctx := t.Context()
	root := r.old.DB(t)
	mustExec(t, ctx, root, "CREATE DATABASE app",
		"CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)",
		"INSERT INTO app.t VALUES (100, 'seed')",
		"CREATE TABLE app.audited (id INT PRIMARY KEY, n INT NOT NULL DEFAULT 0)",
		"CREATE TRIGGER app.audited_bi BEFORE INSERT ON app.audited FOR EACH ROW SET NEW.n = NEW.n + 1")
	mustExec(t, ctx, root, sqlFile(t, "meta.sql")...)
	stmts, roles := loadGrants(t, r.pw)
	mustExec(t, ctx, root, stmts...)
	minus := map[string]string{} // probe key -> account lacking that privilege
	n := 0
	for _, ro := range roles {
		for _, g := range ro.grants {
			for _, p := range g.privs {
				n++
				user := fmt.Sprintf("minus_%d", n)
				minus[probeKey(ro.user, p, g.target)] = user
				mustExec(t, ctx, root, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, r.pw))
				mustExec(t, ctx, root, ro.grantStatements(user, p, g.target)...)
			}
		}
	}
	mustExec(t, ctx, root, fmt.Sprintf("CREATE USER 'app_client'@'%%' IDENTIFIED BY '%s'", r.pw),
		"GRANT SELECT, INSERT ON `app`.* TO 'app_client'@'%'")
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := sandbox.WaitCaughtUp(wctx, r.nm, r.old); err != nil {
		t.Fatal(err)
	}
	if ro, err := r.nm.Variable(ctx, "read_only"); err != nil || ro != "1" {
		t.Fatalf("replica read_only = %q (%v), want 1 like a promoted replica before compensation", ro, err)
	}
	return r, minus
}

// TestGrants runs grants.sql on a real MariaDB 10.11 master and replica and
// shows, for the streamer's and the hook's accounts, that (1) each
// privilege is needed: an account lacking only it is refused the
// statements that need it, (2) the account can run every statement of its
// role, and (3) a whole failover works with these accounts alone: capture,
// STOP/RESET SLAVE on the new master, replay of a real row event with its
// original GTID under read_only, fencing and killing clients on the old
// master, opening the new master.
func TestGrants(t *testing.T) {
	r, minus := setupRig(t)
	probes := allProbes(r)
	for key := range minus {
		if _, ok := probes[key]; !ok {
			t.Errorf("%s grants %s but no probe shows it is needed: remove it or add a probe", grantsFile, key)
		}
	}
	for key := range probes {
		if _, ok := minus[key]; !ok {
			t.Errorf("probe %s has no privilege in %s", key, grantsFile)
		}
	}
	t.Run("each privilege is needed", func(t *testing.T) {
		for key, user := range minus {
			for i, st := range probes[key] {
				conn := r.connect(t, st.on, user)
				err := st.run(t, conn, user)
				if !st.denied(err) {
					t.Errorf("%s step %d (%s) without it: got %v, want it refused", key, i, st.what, err)
				}
			}
		}
	})
	t.Run("each role runs its statements", func(t *testing.T) {
		for key, steps := range probes {
			user, _, _ := strings.Cut(key, " ")
			for i, st := range steps {
				if st.negativeOnly {
					continue
				}
				if err := st.run(t, r.connect(t, st.on, user), user); err != nil {
					t.Errorf("%s step %d (%s) as %s: %v", key, i, st.what, user, err)
				}
			}
		}
	})
	t.Run("the hook account sees the tables' triggers", func(t *testing.T) {
		// source-wins and review refuse to write typed statements into a
		// table with triggers (they would fire twice), so the hook's
		// account must see them. MariaDB 10.11 shows a table's triggers to
		// an account with any privilege on it but SELECT: the hook's
		// INSERT, UPDATE, DELETE do, with no TRIGGER privilege.
		if err := triggersVisible(t, r.connect(t, r.nm, "recoup_hook")); err != nil {
			t.Errorf("recoup_hook: %v", err)
		}
		if err := triggersVisible(t, r.connect(t, r.nm, "recoup_stream")); !errors.Is(err, errNotVisible) {
			t.Errorf("recoup_stream (SELECT only) sees the triggers (%v): the check above proves nothing", err)
		}
	})
	if t.Failed() {
		return
	}
	t.Run("failover with these accounts alone", func(t *testing.T) { failover(t, r) })
}

// triggersVisible: information_schema shows app.audited's trigger.
func triggersVisible(t *testing.T, c *sql.Conn) error {
	var n int
	err := c.QueryRowContext(t.Context(),
		"SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = 'app' AND EVENT_OBJECT_TABLE = 'audited'").Scan(&n)
	if err == nil && n != 1 {
		err = fmt.Errorf("%w: %d triggers on app.audited", errNotVisible, n)
	}
	return err
}
