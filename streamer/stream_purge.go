package streamer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/recoup-dev/recoup/repl"
)

// ErrBinlogPurged is wrapped by the error Run returns when the master no
// longer has the binlog after the captured position (or never had it):
// capture cannot continue from this master without losing transactions,
// and never jumps ahead.
var ErrBinlogPurged = errors.New("master cannot serve the binlog after the captured position")

// purgeError explains a binlog dump refused with error 1236: the captured
// position, what the master has, the range that is missing, and what to do.
func (s *Streamer) purgeError(ctx context.Context, db *sql.DB, me *gomysql.MyError) error {
	captured := s.Status().Position
	var b strings.Builder
	fmt.Fprintf(&b, "captured position %s; master says: %s", orNone(captured.String()), me.Message)
	cur, err := masterPosition(ctx, db, s.cfg.Flavor)
	if err == nil {
		fmt.Fprintf(&b, "; master position %s", orNone(cur.String()))
	}
	oldest, what, oerr := oldestAvailable(ctx, db, s.cfg.Flavor)
	switch {
	case oerr != nil:
		fmt.Fprintf(&b, "; could not read what the master purged: %v", oerr)
	default:
		fmt.Fprintf(&b, "; %s %s", what, orNone(oldest.String()))
		if missing := oldest.Subtract(captured); !missing.IsEmpty() {
			fmt.Fprintf(&b, "; missing from capture: %s", missing)
		}
	}
	b.WriteString(". The transactions after the captured position are no longer in the master's binlog, so they " +
		"cannot be captured. If no failover happened meanwhile they are still in the master's data: move the capture " +
		"log aside and restart recoup for this cluster to begin capture at the master's current position, and raise " +
		"binlog retention (expire_logs_days / binlog_expire_logs_seconds) above the longest streamer outage")
	return fmt.Errorf("%w: %s", ErrBinlogPurged, b.String())
}

func orNone(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// oldestAvailable is the GTID state at the start of the master's oldest
// binlog (MariaDB: its Gtid_list event) or gtid_purged (MySQL): what the
// master can no longer send.
func oldestAvailable(ctx context.Context, db *sql.DB, f repl.Flavor) (repl.GTIDSet, string, error) {
	if f == repl.MySQL {
		var text string
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_purged").Scan(&text); err != nil {
			return repl.GTIDSet{}, "", err
		}
		set, err := repl.ParseGTIDSet(f, text)
		return set, "gtid_purged", err
	}
	var file string
	var size any
	if err := db.QueryRowContext(ctx, "SHOW BINARY LOGS").Scan(&file, &size); err != nil {
		return repl.GTIDSet{}, "", err
	}
	rows, err := db.QueryContext(ctx, "SHOW BINLOG EVENTS IN '"+strings.ReplaceAll(file, "'", "''")+"' LIMIT 4")
	if err != nil {
		return repl.GTIDSet{}, "", err
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ, info string
		var pos, sid, end any
		if err := rows.Scan(&name, &pos, &typ, &sid, &end, &info); err != nil {
			return repl.GTIDSet{}, "", err
		}
		if typ == "Gtid_list" {
			set, err := repl.ParseGTIDSet(f, strings.Trim(info, "[]"))
			return set, "oldest binlog " + file + " starts after", err
		}
	}
	if err := rows.Err(); err != nil {
		return repl.GTIDSet{}, "", err
	}
	return repl.GTIDSet{}, "", fmt.Errorf("no Gtid_list event at the start of %s", file)
}
