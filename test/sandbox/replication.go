package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// GTIDBinlogPos reads @@gtid_binlog_pos: the GTIDs in this server's binary
// log.
func (in *Instance) GTIDBinlogPos(ctx context.Context) (repl.GTIDSet, error) {
	return in.gtidVar(ctx, "gtid_binlog_pos")
}

// GTIDCurrentPos reads @@gtid_current_pos: the GTIDs applied by
// replication or written here.
func (in *Instance) GTIDCurrentPos(ctx context.Context) (repl.GTIDSet, error) {
	return in.gtidVar(ctx, "gtid_current_pos")
}

// GTIDSlavePos reads @@gtid_slave_pos: the GTIDs applied by replication.
func (in *Instance) GTIDSlavePos(ctx context.Context) (repl.GTIDSet, error) {
	return in.gtidVar(ctx, "gtid_slave_pos")
}

func (in *Instance) gtidVar(ctx context.Context, name string) (repl.GTIDSet, error) {
	v, err := in.Variable(ctx, name)
	if err != nil {
		return repl.GTIDSet{}, err
	}
	s, err := repl.ParseGTIDSet(repl.MariaDB, v)
	if err != nil {
		return repl.GTIDSet{}, fmt.Errorf("parsing @@%s %q of %s: %w", name, v, in.Addr(), err)
	}
	return s, nil
}

// ReplicaStatus is the part of SHOW SLAVE STATUS the sandbox uses. Zero
// value (Configured false) when the server is not a replica.
type ReplicaStatus struct {
	Configured   bool
	MasterHost   string
	MasterPort   int
	IORunning    string // "Yes", "No", "Connecting"
	SQLRunning   string // "Yes", "No"
	LastIOError  string
	LastSQLError string
	UsingGTID    string // "Slave_Pos", "Current_Pos", "No"
	// RelayApplied: the SQL thread has executed everything the IO thread
	// has read from the primary.
	RelayApplied bool
}

// Running reports whether both replication threads run.
func (s ReplicaStatus) Running() bool { return s.IORunning == "Yes" && s.SQLRunning == "Yes" }

// ReplicaStatus runs SHOW SLAVE STATUS.
func (in *Instance) ReplicaStatus(ctx context.Context) (ReplicaStatus, error) {
	db, err := in.Pool()
	if err != nil {
		return ReplicaStatus{}, err
	}
	m, err := queryOneRowMap(ctx, db, "SHOW SLAVE STATUS")
	if err != nil {
		return ReplicaStatus{}, fmt.Errorf("SHOW SLAVE STATUS on %s: %w", in.Addr(), err)
	}
	if m == nil {
		return ReplicaStatus{}, nil
	}
	port, _ := strconv.Atoi(m["Master_Port"]) // empty when unset; 0 is fine
	return ReplicaStatus{
		Configured:   true,
		MasterHost:   m["Master_Host"],
		MasterPort:   port,
		IORunning:    m["Slave_IO_Running"],
		SQLRunning:   m["Slave_SQL_Running"],
		LastIOError:  m["Last_IO_Error"],
		LastSQLError: m["Last_SQL_Error"],
		UsingGTID:    m["Using_Gtid"],
		RelayApplied: m["Master_Log_File"] == m["Relay_Master_Log_File"] &&
			m["Read_Master_Log_Pos"] == m["Exec_Master_Log_Pos"],
	}, nil
}

// queryOneRowMap returns the first row of q by column name, nil if none.
func queryOneRowMap(ctx context.Context, db *sql.DB, q string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(cols))
	for i, c := range cols {
		m[c] = vals[i].String
	}
	return m, rows.Err()
}

// ReplicateFrom makes in a read-only replica of primary with
// MASTER_USE_GTID=slave_pos and waits until both threads run.
func (in *Instance) ReplicateFrom(ctx context.Context, primary *Instance) error {
	// CHANGE MASTER takes no placeholders; the password is our own hex
	// string, checked so it cannot change the statement.
	if !isHex(primary.Password) || strings.ContainsAny(primary.User, `'\`) {
		return fmt.Errorf("pointing %s at %s: credentials are not sandbox-generated", in.Name, primary.Name)
	}
	stmts := []string{
		"STOP SLAVE",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', "+
			"MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			primary.Host, primary.Port, primary.User, primary.Password),
		"SET GLOBAL read_only = ON",
		"START SLAVE",
	}
	for _, q := range stmts {
		if _, err := in.execQuiet(ctx, q); err != nil {
			return fmt.Errorf("pointing %s at %s: %w", in.Name, primary.Addr(), err)
		}
	}
	if err := in.waitReplicating(ctx); err != nil {
		return fmt.Errorf("pointing %s at %s: %w", in.Name, primary.Addr(), err)
	}
	in.log.Info("replicating", "host", in.Addr(), "primary", primary.Addr())
	return nil
}

// execQuiet is Exec whose error does not quote the statement (which may
// hold a password).
func (in *Instance) execQuiet(ctx context.Context, q string) (sql.Result, error) {
	db, err := in.Pool()
	if err != nil {
		return nil, err
	}
	res, err := db.ExecContext(ctx, q)
	if err != nil {
		verb, _, _ := strings.Cut(q, " TO ")
		return nil, fmt.Errorf("%s on %s: %w", verb, in.Addr(), err)
	}
	return res, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// waitReplicating waits until both replication threads run, failing fast
// on a replication error.
func (in *Instance) waitReplicating(ctx context.Context) error {
	return poll(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
		st, err := in.ReplicaStatus(ctx)
		if err != nil {
			return false, err
		}
		if st.LastIOError != "" || st.LastSQLError != "" {
			return false, fmt.Errorf("replication error: io=%q sql=%q", st.LastIOError, st.LastSQLError)
		}
		return st.Running(), nil
	})
}

// StopReplication stops both replication threads of a replica, keeping its
// configuration (STOP SLAVE).
func (in *Instance) StopReplication(ctx context.Context) error {
	_, err := in.Exec(ctx, "STOP SLAVE")
	return err
}

// StartReplication restarts replication with the existing configuration
// and waits until both threads run.
func (in *Instance) StartReplication(ctx context.Context) error {
	if _, err := in.Exec(ctx, "START SLAVE"); err != nil {
		return err
	}
	return in.waitReplicating(ctx)
}

// WaitCaughtUp waits until replica has applied every GTID in primary's
// gtid_binlog_pos as read now, failing fast when replication is stopped or
// broken.
func WaitCaughtUp(ctx context.Context, replica, primary *Instance) error {
	want, err := primary.GTIDBinlogPos(ctx)
	if err != nil {
		return err
	}
	var have repl.GTIDSet
	err = poll(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		var perr error
		if have, perr = replica.GTIDCurrentPos(ctx); perr != nil {
			return false, perr
		}
		if want.Subset(have) {
			return true, nil
		}
		st, perr := replica.ReplicaStatus(ctx)
		if perr != nil {
			return false, perr
		}
		if st.LastIOError != "" || st.LastSQLError != "" || st.SQLRunning != "Yes" {
			return false, fmt.Errorf("replication not running: io=%s sql=%s io_error=%q sql_error=%q",
				st.IORunning, st.SQLRunning, st.LastIOError, st.LastSQLError)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to reach %s of %s (has %s): %w",
			replica.Name, want, primary.Name, have, err)
	}
	return nil
}

// poll calls f until it reports done, fails, or limit or ctx runs out.
func poll(ctx context.Context, limit time.Duration, f func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := f(ctx)
		if err != nil || done {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
