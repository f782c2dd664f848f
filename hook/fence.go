package hook

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/repl"
)

// Server is one MySQL or MariaDB server the hook drives over SQL: the new
// master (fence, detach, unfence, lock) or the old one (fence, kill
// clients). Every statement runs under the caller's ctx; no value is
// formatted into SQL text.
type Server struct {
	Addr   string
	Flavor repl.Flavor
	DB     *sql.DB
	log    *slog.Logger
}

// NewServer wraps db, a pool connected to addr.
func NewServer(addr string, flavor repl.Flavor, db *sql.DB, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{Addr: addr, Flavor: flavor, DB: db, log: log.With("host", addr)}
}

// Identity tells servers apart: what a probe through the proxy compares
// with the new master's own answer.
type Identity struct {
	ServerID uint32 `json:"server_id"`
	Hostname string `json:"hostname"`
	Port     int    `json:"port"`
}

func (id Identity) String() string {
	return fmt.Sprintf("server_id=%d %s:%d", id.ServerID, id.Hostname, id.Port)
}

// ReadIdentity asks a connection who it is.
func ReadIdentity(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (Identity, error) {
	var id Identity
	err := q.QueryRowContext(ctx, "SELECT @@server_id, @@hostname, @@port").Scan(&id.ServerID, &id.Hostname, &id.Port)
	if err != nil {
		return id, fmt.Errorf("reading server identity: %w", err)
	}
	return id, nil
}

// Identity reads the server's identity.
func (s *Server) Identity(ctx context.Context) (Identity, error) {
	id, err := ReadIdentity(ctx, s.DB)
	if err != nil {
		return id, fmt.Errorf("%s: %w", s.Addr, err)
	}
	return id, nil
}

// Writable reports whether read_only is OFF.
func (s *Server) Writable(ctx context.Context) (bool, error) {
	var ro int
	if err := s.DB.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only").Scan(&ro); err != nil {
		return false, fmt.Errorf("reading read_only on %s: %w", s.Addr, err)
	}
	return ro == 0, nil
}

// SetReadOnly turns read_only on or off. strict also sets MySQL's
// super_read_only (on) — used for the old master only: on the new master
// it would stop compensation's own writes. Turning off clears both.
func (s *Server) SetReadOnly(ctx context.Context, on, strict bool) error {
	stmts := []string{"SET GLOBAL read_only = OFF"}
	if s.Flavor == repl.MySQL {
		stmts = []string{"SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF"}
	}
	if on {
		stmts = []string{"SET GLOBAL read_only = ON"}
		if strict && s.Flavor == repl.MySQL {
			stmts = append(stmts, "SET GLOBAL super_read_only = ON")
		}
	}
	for _, q := range stmts {
		if _, err := s.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s on %s: %w", q, s.Addr, err)
		}
	}
	return nil
}

// ReplicaState is what SHOW SLAVE STATUS says of the default replication
// connection.
type ReplicaState struct {
	Configured bool
	Running    bool // either thread running
	MasterHost string
	MasterPort string
}

// Replica reads the default replication connection's state.
func (s *Server) Replica(ctx context.Context) (ReplicaState, error) {
	q := "SHOW SLAVE STATUS"
	if s.Flavor == repl.MySQL {
		q = "SHOW REPLICA STATUS"
	}
	row, err := queryRowMap(ctx, s.DB, q)
	if err != nil {
		return ReplicaState{}, fmt.Errorf("%s on %s: %w", q, s.Addr, err)
	}
	if row == nil {
		return ReplicaState{}, nil
	}
	io := first(row, "Slave_IO_Running", "Replica_IO_Running")
	sqlRun := first(row, "Slave_SQL_Running", "Replica_SQL_Running")
	st := ReplicaState{
		Configured: first(row, "Master_Host", "Source_Host") != "",
		Running:    io == "Yes" || io == "Connecting" || sqlRun == "Yes",
		MasterHost: first(row, "Master_Host", "Source_Host"),
		MasterPort: first(row, "Master_Port", "Source_Port"),
	}
	return st, nil
}

func first(row map[string]string, keys ...string) string {
	for _, k := range keys {
		if v, ok := row[k]; ok {
			return v
		}
	}
	return ""
}

// StopReplica stops the default replication connection's threads.
func (s *Server) StopReplica(ctx context.Context) error {
	q := "STOP SLAVE"
	if s.Flavor == repl.MySQL {
		q = "STOP REPLICA"
	}
	if _, err := s.DB.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("%s on %s: %w", q, s.Addr, err)
	}
	return nil
}

// ResetReplica removes the default replication connection (RESET SLAVE
// ALL), stopping it first. MariaDB keeps gtid_slave_pos, which the
// applier uses as the divergence point.
func (s *Server) ResetReplica(ctx context.Context) error {
	if err := s.StopReplica(ctx); err != nil {
		return err
	}
	q := "RESET SLAVE ALL"
	if s.Flavor == repl.MySQL {
		q = "RESET REPLICA ALL"
	}
	if _, err := s.DB.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("%s on %s: %w", q, s.Addr, err)
	}
	return nil
}

// Position is the server's binary log position as a GTID set text:
// MariaDB gtid_binlog_pos, MySQL gtid_executed.
func (s *Server) Position(ctx context.Context) (string, error) {
	q := "SELECT @@GLOBAL.gtid_binlog_pos"
	if s.Flavor == repl.MySQL {
		q = "SELECT @@GLOBAL.gtid_executed"
	}
	var pos string
	if err := s.DB.QueryRowContext(ctx, q).Scan(&pos); err != nil {
		return "", fmt.Errorf("reading the GTID position of %s: %w", s.Addr, err)
	}
	return pos, nil
}

// nonClientCommands are processlist commands of replication and server
// threads: never killed.
var nonClientCommands = []any{"Binlog Dump", "Binlog Dump GTID", "Daemon", "Slave_IO", "Slave_SQL", "Slave_worker"}

// KillClients kills every client connection but this session's own and
// those of replication (binlog dumps to replicas and to recoup's
// streamer) and system threads. It returns how many it killed; a
// connection that ended by itself meanwhile is not an error.
func (s *Server) KillClients(ctx context.Context) (int, error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("connecting to %s: %w", s.Addr, err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST"+
		" WHERE ID <> CONNECTION_ID() AND USER NOT IN ('system user', 'event_scheduler')"+
		" AND COMMAND NOT IN (?, ?, ?, ?, ?, ?)", nonClientCommands...)
	if err != nil {
		return 0, fmt.Errorf("listing client connections of %s: %w", s.Addr, err)
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("listing client connections of %s: %w", s.Addr, err)
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("listing client connections of %s: %w", s.Addr, err)
	}
	killed := 0
	for _, id := range ids {
		_, err := conn.ExecContext(ctx, "KILL CONNECTION ?", id)
		switch {
		case err == nil:
			killed++
		case isUnknownThread(err):
		default:
			return killed, fmt.Errorf("killing connection %d on %s: %w", id, s.Addr, err)
		}
	}
	return killed, nil
}

// isUnknownThread is error 1094 (ER_NO_SUCH_THREAD): the connection
// ended by itself.
func isUnknownThread(err error) bool { return mysqlErrorNumber(err) == 1094 }

// mysqlErrorNumber is the server error number in err, or 0.
func mysqlErrorNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// queryRowMap runs q and returns its first row by column name (nil when
// there is none).
func queryRowMap(ctx context.Context, db *sql.DB, q string) (map[string]string, error) {
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

// shortCtx bounds ctx to at most d (for best-effort calls).
func shortCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
