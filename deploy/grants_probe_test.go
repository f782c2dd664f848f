package deploy_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/test/sandbox"
)

// MariaDB error numbers a missing privilege produces.
const (
	errSpecificAccessDenied = 1227 // you need (at least one of) the X privilege(s)
	errTableAccessDenied    = 1142 // command denied to user for table
	errKillDenied           = 1095 // you are not owner of thread
	errReadOnly             = 1290 // the server is running with --read-only
	// errAccessDenied is what a binlog dump without REPLICATION SLAVE
	// gets when it registers as a replica; the same account's password
	// works for its SQL connection, so here it means the privilege.
	errAccessDenied = 1045
)

// step is one statement (or short sequence) a role runs; denied says
// whether an error is the refusal expected without the probed privilege.
type step struct {
	what   string
	on     *sandbox.Instance
	run    func(t *testing.T, c *sql.Conn, user string) error
	denied func(error) bool
	// negativeOnly: the positive run happens in the failover scenario
	// (RESET SLAVE ALL cannot run twice meaningfully).
	negativeOnly bool
}

func probeKey(user, priv, target string) string { return user + " " + priv + " ON " + target }

// errNotVisible: the statement worked but did not see what it needed.
var errNotVisible = errors.New("not visible to this account")

func code(codes ...uint16) func(error) bool {
	return func(err error) bool {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			return slices.Contains(codes, me.Number)
		}
		var ge *gomysql.MyError
		return errors.As(err, &ge) && slices.Contains(codes, ge.Code)
	}
}

func notVisible(err error) bool { return errors.Is(err, errNotVisible) }

func execs(stmts ...string) func(*testing.T, *sql.Conn, string) error {
	return func(t *testing.T, c *sql.Conn, _ string) error {
		for _, s := range stmts {
			if _, err := c.ExecContext(t.Context(), s); err != nil {
				return err
			}
		}
		return nil
	}
}

// query runs q and reads every row, so a refusal surfaces as an error.
func query(q string) func(*testing.T, *sql.Conn, string) error {
	return func(t *testing.T, c *sql.Conn, _ string) error {
		rows, err := c.QueryContext(t.Context(), q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
		}
		return rows.Err()
	}
}

// allProbes maps each privilege of grants.sql to the statements of its
// role that need it.
func allProbes(r *rig) map[string][]step {
	const st, hk, all, app = "recoup_stream", "recoup_hook", "*.*", "`app`.*"
	denied := code(errSpecificAccessDenied)
	tableDenied := code(errTableAccessDenied)
	return map[string][]step{
		probeKey(st, "REPLICATION SLAVE", all): {{what: "binlog dump by GTID", on: r.old, run: r.dump, denied: code(errSpecificAccessDenied, errAccessDenied)}},
		probeKey(st, "BINLOG MONITOR", all): {
			{what: "SHOW BINARY LOGS", on: r.old, run: query("SHOW BINARY LOGS"), denied: denied},
			{what: "SHOW MASTER STATUS", on: r.old, run: query("SHOW MASTER STATUS"), denied: denied}},
		probeKey(st, "SLAVE MONITOR", all): {{what: "SHOW SLAVE STATUS", on: r.old, run: query("SHOW SLAVE STATUS"), denied: denied}},
		probeKey(st, "SELECT", app): {
			{what: "SHOW CREATE TABLE", on: r.old, run: query("SHOW CREATE TABLE app.t"), denied: tableDenied},
			{what: "information_schema.COLUMNS", on: r.old, run: columnsVisible, denied: notVisible}},

		probeKey(hk, "READ_ONLY ADMIN", all): {
			{what: "SET GLOBAL read_only", on: r.nm, run: execs("SET GLOBAL read_only = ON"), denied: denied},
			{what: "write under read_only", on: r.nm, run: r.insert, denied: code(errReadOnly)}},
		probeKey(hk, "BINLOG REPLAY", all): {
			{what: "SET SESSION gtid_domain_id", on: r.nm, run: execs("SET SESSION gtid_domain_id = 0"), denied: denied},
			{what: "SET SESSION server_id", on: r.nm, run: execs(fmt.Sprintf("SET SESSION server_id = %d", r.old.ServerID)), denied: denied},
			{what: "SET SESSION gtid_seq_no", on: r.nm, run: execs("SET SESSION gtid_seq_no = 1000000000"), denied: denied},
			{what: "BINLOG format description", on: r.nm, run: r.binlogFDE, denied: denied}},
		probeKey(hk, "BINLOG MONITOR", all): {
			{what: "SHOW BINARY LOGS", on: r.nm, run: query("SHOW BINARY LOGS"), denied: denied},
			{what: "SHOW BINLOG EVENTS", on: r.nm, run: query("SHOW BINLOG EVENTS LIMIT 2"), denied: denied}},
		probeKey(hk, "REPLICATION SLAVE ADMIN", all): {{what: "STOP SLAVE", on: r.nm, run: execs("STOP SLAVE"), denied: denied}},
		probeKey(hk, "RELOAD", all):                  {{what: "RESET SLAVE ALL", on: r.nm, run: execs("RESET SLAVE ALL"), denied: denied, negativeOnly: true}},
		probeKey(hk, "SLAVE MONITOR", all):           {{what: "SHOW SLAVE STATUS", on: r.nm, run: query("SHOW SLAVE STATUS"), denied: denied}},
		probeKey(hk, "CONNECTION ADMIN", all):        {{what: "KILL a client", on: r.old, run: r.kill, denied: code(errKillDenied)}},
		probeKey(hk, "PROCESS", all):                 {{what: "see a client", on: r.old, run: r.seeVictim, denied: notVisible}},
		probeKey(hk, "SELECT", app):                  {{what: "SELECT ... FOR UPDATE", on: r.nm, run: query("SELECT v FROM app.t WHERE id = 100 FOR UPDATE"), denied: tableDenied}},
		probeKey(hk, "INSERT", app):                  {{what: "INSERT", on: r.nm, run: r.insert, denied: tableDenied}},
		probeKey(hk, "UPDATE", app):                  {{what: "UPDATE", on: r.nm, run: execs("SET SESSION gtid_domain_id = 99", "UPDATE app.t SET v = 'updated' WHERE id = 100"), denied: tableDenied}},
		probeKey(hk, "DELETE", app):                  {{what: "DELETE", on: r.nm, run: execs("SET SESSION gtid_domain_id = 99", "DELETE FROM app.t WHERE id = -1"), denied: tableDenied}},
	}
}

func columnsVisible(t *testing.T, c *sql.Conn, _ string) error {
	var n int
	err := c.QueryRowContext(t.Context(),
		"SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 't'").Scan(&n)
	if err == nil && n != 2 {
		err = fmt.Errorf("%w: %d columns of app.t", errNotVisible, n)
	}
	return err
}

// insert writes a new row on the (read_only) new master in GTID domain 99,
// so probe writes never collide with the replayed domain-0 GTIDs.
func (r *rig) insert(t *testing.T, c *sql.Conn, user string) error {
	r.ids++
	if _, err := c.ExecContext(t.Context(), "SET SESSION gtid_domain_id = 99"); err != nil {
		return fmt.Errorf("setting the probe's GTID domain: %w", err)
	}
	_, err := c.ExecContext(t.Context(), "INSERT INTO app.t VALUES (?, ?)", 1000+r.ids, user)
	return err
}

// dump registers as a replica and reads the binlog from the start until
// the format description event.
func (r *rig) dump(t *testing.T, _ *sql.Conn, user string) error {
	r.ids++
	s := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: uint32(5000 + r.ids), Flavor: gomysql.MariaDBFlavor, Host: r.old.Host, Port: uint16(r.old.Port),
		User: user, Password: r.pw, DisableRetrySync: true, Logger: slog.New(slog.DiscardHandler),
	})
	defer s.Close()
	gs, err := gomysql.ParseMariadbGTIDSet("")
	if err != nil {
		return err
	}
	stream, err := s.StartSyncGTID(gs)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		ev, err := stream.GetEvent(ctx)
		if err != nil {
			return err
		}
		if _, ok := ev.Event.(*replication.FormatDescriptionEvent); ok {
			return nil
		}
	}
}

// formatDescription is the old master's first binlog file's format
// description event, as stored.
func formatDescription(t *testing.T, in *sandbox.Instance) []byte {
	t.Helper()
	var file string
	var size int64
	if err := in.DB(t).QueryRowContext(t.Context(), "SHOW BINARY LOGS").Scan(&file, &size); err != nil {
		t.Fatalf("SHOW BINARY LOGS on %s: %v", in.Name, err)
	}
	b, err := os.ReadFile(filepath.Join(in.DataDir, file))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 4+19 || string(b[:4]) != "\xfebin" || b[4+4] != 15 {
		t.Fatalf("%s does not start with a format description event", file)
	}
	n := binary.LittleEndian.Uint32(b[4+9:])
	return b[4 : 4+n]
}

func binlogStatement(events ...[]byte) string {
	return "BINLOG '" + base64.StdEncoding.EncodeToString(slices.Concat(events...)) + "'"
}

func (r *rig) binlogFDE(t *testing.T, c *sql.Conn, _ string) error {
	_, err := c.ExecContext(t.Context(), binlogStatement(formatDescription(t, r.old)))
	return err
}

// victim opens an application connection on the old master and returns
// its connection id.
func (r *rig) victim(t *testing.T) (*sql.Conn, int64) {
	t.Helper()
	c := r.connect(t, r.old, "app_client")
	var id int64
	if err := c.QueryRowContext(t.Context(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return c, id
}

func (r *rig) seeVictim(t *testing.T, c *sql.Conn, _ string) error {
	_, id := r.victim(t)
	var n int
	if err := c.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&n); err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%w: client %d", errNotVisible, id)
	}
	return nil
}

// kill kills a fresh client connection and checks it is gone.
func (r *rig) kill(t *testing.T, c *sql.Conn, _ string) error {
	v, id := r.victim(t)
	if _, err := c.ExecContext(t.Context(), fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := v.PingContext(ctx); err == nil {
		return fmt.Errorf("client %d still answers after KILL", id)
	}
	return nil
}
