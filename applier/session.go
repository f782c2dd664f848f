package applier

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// sessionSetup is what every applier connection runs first, so that reads
// and writes are exact and behave as a replica's applier does:
//   - SET NAMES binary: strings travel as their stored bytes, both ways
//     (no charset conversion of results or parameters);
//   - time_zone '+00:00': TIMESTAMP values read and written in UTC, as the
//     captured images hold them;
//   - sql_mode NO_AUTO_VALUE_ON_ZERO only: no strict-mode rewriting, and an
//     explicit 0 in an AUTO_INCREMENT column stays 0 (what the row events
//     carry); the BINLOG statement applies rows events with the replica
//     applier's own rules whatever sql_mode says;
//   - foreign_key_checks and unique_checks ON for the applier's own
//     statements; rows events switch them per event from their flags
//     (NO_FOREIGN_KEY_CHECKS_F, RELAXED_UNIQUE_CHECKS_F), exactly as the
//     origin session had them;
//   - autocommit ON: a transaction that is one BINLOG statement is
//     replayed without BEGIN and COMMIT (see autocommit).
var sessionSetup = []string{
	"SET NAMES binary",
	"SET SESSION time_zone = '+00:00'",
	"SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
	"SET SESSION foreign_key_checks = 1, SESSION unique_checks = 1",
	"SET SESSION autocommit = 1",
}

// session is the one connection a run uses, with its settings. The
// connection is discarded (never returned to the pool) on close, since
// its session variables are not the pool's.
type session struct {
	conn      *sql.Conn
	flavor    repl.Flavor
	log       *slog.Logger
	serverID  uint32 // the new master's @@server_id
	maxPacket int64
	fde       []byte // the format description event installed last
	ids       string // MariaDB: the domain/server id statement in effect
}

func openSession(ctx context.Context, db *sql.DB, flavor repl.Flavor, log *slog.Logger) (*session, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the new master: %w", err)
	}
	s := &session{conn: conn, flavor: flavor, log: log}
	for _, q := range sessionSetup {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			s.close()
			return nil, fmt.Errorf("setting up the applier session (%s): %w", q, err)
		}
	}
	err = conn.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id, @@GLOBAL.max_allowed_packet").Scan(&s.serverID, &s.maxPacket)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("reading the new master's server_id: %w", err)
	}
	return s, nil
}

// close discards the connection: returning driver.ErrBadConn from Raw
// makes database/sql close it instead of pooling it.
func (s *session) close() {
	_ = s.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = s.conn.Close() // already closed by Raw: the error is expected
}

// installFDE runs the BINLOG statement of a record's format description
// event when it is not the session's current one.
func (s *session) installFDE(ctx context.Context, fde []byte) error {
	if bytes.Equal(fde, s.fde) {
		return nil
	}
	st, err := fdeStatement(fde)
	if err != nil {
		return err
	}
	if _, err := s.conn.ExecContext(ctx, st.SQL()); err != nil {
		return fmt.Errorf("installing the format description event: %w", err)
	}
	s.fde = bytes.Clone(fde)
	return nil
}

// dbTxn is one open DB transaction carrying one replayed transaction.
type dbTxn struct {
	tx       *sql.Tx
	gtid     repl.GTID
	plan     gtidPlan
	fallback bool // MariaDB: the server assigns a new GTID
}

// begin gives the next transaction g (or, when strict mode refuses g's
// sequence number, a new GTID in g's domain) and starts it.
func (s *session) begin(ctx context.Context, g repl.GTID, fallback bool) (*dbTxn, error) {
	p, fallback, err := s.setGTID(ctx, g, fallback)
	if err != nil {
		return nil, err
	}
	tx, err := s.conn.BeginTx(ctx, nil)
	if err != nil {
		s.reset(p)
		return nil, fmt.Errorf("starting the transaction of %s: %w", g, err)
	}
	return &dbTxn{tx: tx, gtid: g, plan: p, fallback: fallback}, nil
}

// setGTID makes g the session's next GTID (or, when strict mode refuses
// g's sequence number, lets the server assign one in g's domain: fallback
// is then true).
func (s *session) setGTID(ctx context.Context, g repl.GTID, fallback bool) (gtidPlan, bool, error) {
	p, err := planGTID(g, s.ids, fallback, s.serverID)
	if err != nil {
		return gtidPlan{}, fallback, err
	}
	if p.ids != "" {
		if _, err := s.conn.ExecContext(ctx, p.ids); err != nil {
			return gtidPlan{}, fallback, fmt.Errorf("setting the session's GTID domain and server id for %s: %w", g, err)
		}
		s.ids = p.ids
	}
	if _, err := s.conn.ExecContext(ctx, p.before); err != nil {
		if !fallback && isMySQLError(err, erGTIDStrictOutOfOrder) {
			s.log.Debug("strict mode refuses the original GTID: the server will assign one", "gtid", g.String(), "err", err)
			return s.setGTID(ctx, g, true)
		}
		return gtidPlan{}, fallback, fmt.Errorf("setting GTID %s: %w", g, err)
	}
	return p, fallback, nil
}

// autocommit replays a transaction that is one BINLOG statement (MariaDB)
// as a transaction of its own: the session is in autocommit mode, so the
// server commits and binlogs the statement under the GTID set just
// before. Two round trips instead of four (SET, BEGIN, BINLOG, COMMIT). A
// statement that fails is rolled back whole by the server. It returns the
// new GTID when the server had to assign one (zero GTID otherwise).
//
// seqFor is q under g's sequence number (mariadbSeqFor(g.Seq, q)) when the
// caller wrote it ahead, or "".
func (s *session) autocommit(ctx context.Context, g repl.GTID, q, seqFor string, fallback bool) (repl.GTID, error) {
	if !fallback {
		return s.autocommitAs(ctx, g, q, seqFor)
	}
	p, fallback, err := s.setGTID(ctx, g, fallback)
	if err != nil {
		return repl.GTID{}, err
	}
	if _, err := s.conn.ExecContext(ctx, q); err != nil {
		s.reset(p)
		if !fallback && isMySQLError(err, erGTIDStrictOutOfOrder) {
			return s.autocommit(ctx, g, q, "", true)
		}
		return repl.GTID{}, fmt.Errorf("replaying the row events: %w", err)
	}
	if !fallback {
		return repl.GTID{}, nil
	}
	return s.lastGTID(ctx, g)
}

// commit commits t and returns the GTID it was binlogged with when the
// server assigned a new one (zero GTID otherwise).
func (s *session) commit(ctx context.Context, t *dbTxn) (repl.GTID, error) {
	if err := t.tx.Commit(); err != nil {
		s.reset(t.plan)
		return repl.GTID{}, fmt.Errorf("committing %s: %w", t.gtid, err)
	}
	if s.flavor == repl.MySQL {
		if _, err := s.conn.ExecContext(ctx, t.plan.reset); err != nil {
			return repl.GTID{}, fmt.Errorf("after committing %s: %w", t.gtid, err)
		}
	}
	if !t.fallback {
		return repl.GTID{}, nil
	}
	return s.lastGTID(ctx, t.gtid)
}

// lastGTID reads the GTID the server gave the session's last transaction,
// which replayed g.
func (s *session) lastGTID(ctx context.Context, g repl.GTID) (repl.GTID, error) {
	var last string
	if err := s.conn.QueryRowContext(ctx, "SELECT @@SESSION.last_gtid").Scan(&last); err != nil {
		return repl.GTID{}, fmt.Errorf("reading the new GTID of %s: %w", g, err)
	}
	g, err := repl.ParseGTID(repl.MariaDB, strings.TrimSpace(last))
	if err != nil {
		return repl.GTID{}, fmt.Errorf("reading the new GTID of %s: %w", g, err)
	}
	return g, nil
}

// rollback abandons t; the GTID it was to get stays unused.
func (s *session) rollback(t *dbTxn) {
	_ = t.tx.Rollback() // ErrTxDone after a cancelled context: already rolled back
	s.reset(t.plan)
}

// reset clears a GTID the server did not consume. It uses a fresh context:
// it must run even when the run's context has expired. When it fails the
// session is unusable, which the next statement reports.
func (s *session) reset(p gtidPlan) {
	ctx, cancel := context.WithTimeout(context.Background(), resetTimeout)
	defer cancel()
	if _, err := s.conn.ExecContext(ctx, p.reset); err != nil {
		s.log.Debug("could not clear the session GTID after a rollback", "err", err)
	}
}

// autocommitAs is autocommit under g itself: gtid_seq_no is set by SET
// STATEMENT in the statement that replays (seqFor, written here when ""),
// one round trip (plus one when the domain or server id changes). Strict
// mode refusing g's sequence number falls back to a new GTID.
func (s *session) autocommitAs(ctx context.Context, g repl.GTID, q, seqFor string) (repl.GTID, error) {
	p, err := planGTID(g, s.ids, false, s.serverID)
	if err != nil {
		return repl.GTID{}, err
	}
	if p.ids != "" {
		if _, err := s.conn.ExecContext(ctx, p.ids); err != nil {
			return repl.GTID{}, fmt.Errorf("setting the session's GTID domain and server id for %s: %w", g, err)
		}
		s.ids = p.ids
	}
	if seqFor == "" {
		seqFor = mariadbSeqFor(g.Seq, q)
	}
	if _, err := s.conn.ExecContext(ctx, seqFor); err != nil {
		if isMySQLError(err, erGTIDStrictOutOfOrder) {
			s.log.Debug("strict mode refuses the original GTID: the server will assign one", "gtid", g.String(), "err", err)
			return s.autocommit(ctx, g, q, "", true)
		}
		return repl.GTID{}, fmt.Errorf("replaying the row events of %s: %w", g, err)
	}
	return repl.GTID{}, nil
}
