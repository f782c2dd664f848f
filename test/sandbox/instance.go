package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Instance is one mariadbd server. Its exported fields are fixed for its
// life; methods are safe for concurrent use.
type Instance struct {
	Index    int    // 0 for the topology's first primary, then replicas in order
	Name     string // "db0", "db1", ...
	ServerID uint32
	Host     string // always 127.0.0.1
	Port     int
	User     string // has ALL PRIVILEGES WITH GRANT OPTION from 127.0.0.1
	Password string
	Dir      string // instance directory: datadir, logs
	DataDir  string
	Socket   string

	bin          string
	args         []string
	detach       bool
	startTimeout time.Duration
	log          *slog.Logger

	mu   sync.Mutex
	proc *process // nil before the first start
	pool *sql.DB
}

// Addr is host:port for TCP clients.
func (in *Instance) Addr() string { return net.JoinHostPort(in.Host, strconv.Itoa(in.Port)) }

// PIDFile is where mariadbd writes its process id.
func (in *Instance) PIDFile() string { return filepath.Join(in.DataDir, "mariadbd.pid") }

// TmpDir is the instance's private tmpdir.
func (in *Instance) TmpDir() string { return filepath.Join(in.Dir, "tmp") }

// ErrorLog is the server's error log.
func (in *Instance) ErrorLog() string { return filepath.Join(in.Dir, "error.log") }

// Args is the server's command line (without the binary); it holds no
// credentials.
func (in *Instance) Args() []string { return append([]string(nil), in.args...) }

// DSN is a go-sql-driver/mysql data source name for db ("" for none) over
// TCP as the sandbox user. It holds the password: do not log it.
func (in *Instance) DSN(db string) string {
	c := mysql.NewConfig()
	c.User = in.User
	c.Passwd = in.Password
	c.Net = "tcp"
	c.Addr = in.Addr()
	c.DBName = db
	c.Timeout = 5 * time.Second
	return c.FormatDSN()
}

// socketDSN reaches the server as passwordless root@localhost over its unix
// socket, which only the sandbox's own user can reach (0700 directory).
func (in *Instance) socketDSN() string {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "unix"
	c.Addr = in.Socket
	c.Timeout = time.Second
	return c.FormatDSN()
}

// Pool returns the instance's cached connection pool (DSN("")), opening it
// on first use. The topology's Close closes it; callers must not.
func (in *Instance) Pool() (*sql.DB, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pool != nil {
		return in.pool, nil
	}
	db, err := sql.Open("mysql", in.DSN(""))
	if err != nil {
		return nil, fmt.Errorf("opening pool to %s: %w", in.Addr(), err)
	}
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	in.pool = db
	return db, nil
}

// flushPool drops idle connections after the server went away, so the next
// query dials afresh instead of finding a dead connection.
func (in *Instance) flushPool() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pool != nil {
		in.pool.SetMaxIdleConns(0)
		in.pool.SetMaxIdleConns(4)
	}
}

func (in *Instance) closePool() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pool == nil {
		return nil
	}
	err := in.pool.Close()
	in.pool = nil
	if err != nil {
		return fmt.Errorf("closing pool to %s: %w", in.Addr(), err)
	}
	return nil
}

// Exec runs one statement on the instance's pool.
func (in *Instance) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	db, err := in.Pool()
	if err != nil {
		return nil, err
	}
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", query, in.Addr(), err)
	}
	return res, nil
}

// Variable reads a global server variable, e.g. Variable(ctx,
// "binlog_format"). The name must be a plain identifier.
func (in *Instance) Variable(ctx context.Context, name string) (string, error) {
	for _, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "", fmt.Errorf("reading variable %q: not a variable name", name)
		}
	}
	db, err := in.Pool()
	if err != nil {
		return "", err
	}
	var v sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL."+name).Scan(&v); err != nil {
		return "", fmt.Errorf("reading @@%s on %s: %w", name, in.Addr(), err)
	}
	return v.String, nil
}

// setupUsers gives root@'127.0.0.1' and root@'%' the sandbox password. It
// runs over the socket with sql_log_bin=0 so it creates no GTIDs: every
// instance starts with an empty gtid_binlog_pos.
func (in *Instance) setupUsers(ctx context.Context) error {
	db, err := sql.Open("mysql", in.socketDSN())
	if err != nil {
		return fmt.Errorf("opening socket connection to %s: %w", in.Socket, err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", in.Socket, err)
	}
	defer conn.Close()
	// Account statements take no placeholders; the password is our own
	// hex string, checked so it cannot change the statement. Errors quote
	// only the statement's index, never its text.
	if !isHex(in.Password) {
		return fmt.Errorf("creating sandbox user on %s: password is not sandbox-generated", in.Name)
	}
	stmts := []string{
		"SET SESSION sql_log_bin = 0",
		"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '" + in.Password + "'",
		"CREATE OR REPLACE USER 'root'@'%' IDENTIFIED BY '" + in.Password + "'",
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION",
	}
	for i, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating sandbox user on %s (statement %d): %w", in.Name, i+1, err)
		}
	}
	return nil
}
