package streamer

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// userDB connects to inst as another user.
func userDB(t *testing.T, inst *sandbox.Instance, user, password string) *sql.DB {
	t.Helper()
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = user, password, "tcp", inst.Addr()
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return db
}

// checkPreflight runs Preflight and checks the refusal lists each of
// problems and the warnings each of warnings (substrings).
func checkPreflight(t *testing.T, db *sql.DB, problems, warnings []string, opts ...PreflightOption) {
	t.Helper()
	gotWarn, err := Preflight(context.Background(), db, repl.MariaDB, opts...)
	var pe *PreflightError
	switch {
	case len(problems) == 0 && err != nil:
		t.Fatalf("Preflight refused: %v", err)
	case len(problems) > 0 && !errors.As(err, &pe):
		t.Fatalf("Preflight error = %v, want a *PreflightError", err)
	case pe != nil && len(pe.Problems) != len(problems):
		t.Errorf("problems = %q, want %d matching %q", pe.Problems, len(problems), problems)
	}
	for _, p := range problems {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("refusal %q does not say %q", err, p)
		}
	}
	joined := strings.Join(gotWarn, "\n")
	for _, w := range warnings {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings %q do not say %q", gotWarn, w)
		}
	}
	if len(warnings) == 0 && len(gotWarn) > 0 {
		t.Errorf("unexpected warnings %q", gotWarn)
	}
}

func TestPreflightSettings(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	execAll(t, db, "CREATE DATABASE app")
	tests := []struct {
		name     string
		set      []string // SET GLOBAL statements, undone after
		undo     []string
		opts     []PreflightOption
		problems []string
		warnings []string
	}{
		{name: "ready"},
		{name: "STATEMENT", set: []string{"SET GLOBAL binlog_format = 'STATEMENT'"}, undo: []string{"SET GLOBAL binlog_format = 'ROW'"},
			problems: []string{"binlog_format is STATEMENT: set binlog_format=ROW"}},
		{name: "MIXED", set: []string{"SET GLOBAL binlog_format = 'MIXED'"}, undo: []string{"SET GLOBAL binlog_format = 'ROW'"},
			problems: []string{"binlog_format is MIXED: set binlog_format=ROW"}},
		{name: "MINIMAL image", set: []string{"SET GLOBAL binlog_row_image = 'MINIMAL'"}, undo: []string{"SET GLOBAL binlog_row_image = 'FULL'"},
			problems: []string{"binlog_row_image is MINIMAL: set binlog_row_image=FULL"}},
		{name: "MINIMAL metadata warns", set: []string{"SET GLOBAL binlog_row_metadata = 'MINIMAL'"}, undo: []string{"SET GLOBAL binlog_row_metadata = 'FULL'"},
			warnings: []string{"binlog_row_metadata is MINIMAL: set binlog_row_metadata=FULL"}},
		{name: "gtid_strict_mode off warns", set: []string{"SET GLOBAL gtid_strict_mode = 0"}, undo: []string{"SET GLOBAL gtid_strict_mode = 1"},
			warnings: []string{"gtid_strict_mode is OFF"}},
		{name: "read_only", set: []string{"SET GLOBAL read_only = 1"}, undo: []string{"SET GLOBAL read_only = 0"},
			problems: []string{"is read_only, so it is not the cluster's master: point the streamer at the master, or set allow_replica_source"}},
		{name: "read_only allowed", set: []string{"SET GLOBAL read_only = 1"}, undo: []string{"SET GLOBAL read_only = 0"},
			opts: []PreflightOption{AllowReplicaSource()}, warnings: []string{"capturing from a server that is read_only"}},
		{name: "same server id", opts: []PreflightOption{ReplicaServerID(inst.ServerID)},
			problems: []string{"give the streamer a server_id no server of the cluster uses"}},
		{name: "semi-sync not enabled warns", opts: []PreflightOption{SemiSyncReplica()},
			warnings: []string{"rpl_semi_sync_master_enabled is OFF: the master does not wait for the streamer"}},
		{name: "semi-sync enabled", set: []string{"SET GLOBAL rpl_semi_sync_master_enabled = ON"},
			undo: []string{"SET GLOBAL rpl_semi_sync_master_enabled = OFF"}, opts: []PreflightOption{SemiSyncReplica()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			execAll(t, db, tc.set...)
			defer execAll(t, db, tc.undo...)
			checkPreflight(t, db, tc.problems, tc.warnings, tc.opts...)
		})
	}
	t.Run("Run stops on a refusal", func(t *testing.T) {
		execAll(t, db, "SET GLOBAL binlog_format = 'STATEMENT'")
		defer execAll(t, db, "SET GLOBAL binlog_format = 'ROW'")
		r := startStreamer(t, capConfig(inst), openStore(t, t.TempDir()))
		var pe *PreflightError
		select {
		case <-r.done:
			if !errors.As(r.err, &pe) {
				t.Fatalf("Run = %v, want a *PreflightError", r.err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not stop on a preflight refusal")
		}
	})
}

func TestPreflightPrivileges(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	root := inst.DB(t)
	execAll(t, root, "CREATE DATABASE app", "CREATE DATABASE shop",
		"CREATE USER 'repl_only'@'127.0.0.1' IDENTIFIED BY 'pw1'", "GRANT REPLICATION SLAVE ON *.* TO 'repl_only'@'127.0.0.1'",
		"CREATE USER 'no_repl'@'127.0.0.1' IDENTIFIED BY 'pw2'", "GRANT BINLOG MONITOR ON *.* TO 'no_repl'@'127.0.0.1'",
		"GRANT SELECT ON app.* TO 'no_repl'@'127.0.0.1'",
		"CREATE USER 'capture'@'127.0.0.1' IDENTIFIED BY 'pw3'",
		"GRANT REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'capture'@'127.0.0.1'",
		"GRANT SELECT ON `app`.* TO 'capture'@'127.0.0.1'", "GRANT SELECT ON `sh\\_p`.* TO 'capture'@'127.0.0.1'")
	checkPreflight(t, userDB(t, inst, "repl_only", "pw1"),
		[]string{"GRANT BINLOG MONITOR ON *.*", "lacks SELECT on schema app"},
		[]string{"cannot tell whether the server replicates"}, CaptureSchemas("app"))
	checkPreflight(t, userDB(t, inst, "no_repl", "pw2"),
		[]string{"lacks REPLICATION SLAVE: GRANT REPLICATION SLAVE ON *.*"},
		[]string{"cannot tell whether the server replicates"}, CaptureSchemas("app"))
	capDB := userDB(t, inst, "capture", "pw3")
	checkPreflight(t, capDB, nil, nil, CaptureSchemas("app"))
	// By default every visible schema is captured: shop is visible (the
	// user has a grant pattern on sh_p only... which does not match shop).
	checkPreflight(t, capDB, nil, nil)
	execAll(t, root, "GRANT INSERT ON shop.* TO 'capture'@'127.0.0.1'")
	checkPreflight(t, capDB, []string{"lacks SELECT on schema shop"}, nil)
}

func TestPreflightServers(t *testing.T) {
	t.Run("log_bin off", func(t *testing.T) {
		inst := sandbox.StartInstance(t, map[string]string{"log_bin": sandbox.Drop, "log_slave_updates": sandbox.Drop})
		checkPreflight(t, inst.DB(t), []string{"binary logging is off"}, nil)
	})
	t.Run("replica", func(t *testing.T) {
		topo := sandbox.StartTopology(t, sandbox.Options{Replicas: 1})
		replica := topo.Instances()[1]
		checkPreflight(t, replica.DB(t), []string{"replicates from another server"}, nil)
		checkPreflight(t, replica.DB(t), nil, []string{"capturing from a server that replicates"}, AllowReplicaSource())
	})
}

// TestPreflightSemiSyncMissing: a server without semi-synchronous
// replication (MySQL without the plugin; every MariaDB has it built in) is
// refused when the streamer is to be a semi-synchronous replica.
func TestPreflightSemiSyncMissing(t *testing.T) {
	c := &checks{flavor: repl.MySQL, vars: map[string]string{}, opts: preflightOpts{semiSync: true}}
	c.semiSync()
	if len(c.problems) != 1 || !strings.Contains(c.problems[0], "INSTALL PLUGIN rpl_semi_sync_master") {
		t.Errorf("problems = %q, want the plugin to install", c.problems)
	}
	c = &checks{flavor: repl.MySQL, vars: map[string]string{}}
	c.semiSync()
	if len(c.problems)+len(c.warnings) != 0 {
		t.Errorf("without semi_sync: problems %q, warnings %q, want none", c.problems, c.warnings)
	}
}
