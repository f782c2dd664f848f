package route

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-sql-driver/mysql"
)

// sqlAdmin is a connection to a proxy's admin interface that speaks the
// MySQL protocol (DBProxy, ProxySQL). Those interfaces take the text
// protocol only, so every statement is sent as one COM_QUERY without
// arguments. Statements are built by this package from validated IP
// addresses and integers only; no other value reaches their text.
type sqlAdmin struct {
	db      *sql.DB
	addr    string
	timeout time.Duration
}

func openSQLAdmin(addr, user, password string, timeout time.Duration) (*sqlAdmin, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("admin address %q: %w", addr, err)
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	c := mysql.NewConfig()
	c.Net, c.Addr = "tcp", addr
	c.User, c.Passwd = user, password
	c.Timeout, c.ReadTimeout, c.WriteTimeout = timeout, timeout, timeout
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("admin connection to %s: %w", addr, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(time.Minute)
	return &sqlAdmin{db: db, addr: addr, timeout: timeout}, nil
}

// query runs one statement and returns its column names and rows as
// strings (NULL as Valid=false).
func (a *sqlAdmin) query(ctx context.Context, q string) ([]string, [][]sql.NullString, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	rows, err := a.db.QueryContext(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("admin %s: %q: %w", a.addr, q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, fmt.Errorf("admin %s: %q: %w", a.addr, q, err)
	}
	var out [][]sql.NullString
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, fmt.Errorf("admin %s: %q: %w", a.addr, q, err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("admin %s: %q: %w", a.addr, q, err)
	}
	return cols, out, nil
}

// exec runs a command; an OK packet or a (discarded) result set is success.
// DBProxy answers its commands with an empty result set, ProxySQL with OK.
func (a *sqlAdmin) exec(ctx context.Context, q string) error {
	_, _, err := a.query(ctx, q)
	return err
}

func (a *sqlAdmin) Close() error {
	if err := a.db.Close(); err != nil {
		return fmt.Errorf("closing admin connection to %s: %w", a.addr, err)
	}
	return nil
}

// columnIndex maps column names to positions, requiring the given ones.
func columnIndex(cols []string, need ...string) (map[string]int, error) {
	idx := make(map[string]int, len(cols))
	for i, c := range cols {
		idx[c] = i
	}
	var missing []error
	for _, n := range need {
		if _, ok := idx[n]; !ok {
			missing = append(missing, fmt.Errorf("column %s missing (got %v)", n, cols))
		}
	}
	return idx, errors.Join(missing...)
}
