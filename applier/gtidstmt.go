package applier

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/repl"
)

// MariaDB and MySQL error numbers the applier handles.
const (
	// erGTIDStrictOutOfOrder (1950): gtid_strict_mode refuses a sequence
	// number not above the domain's current one.
	erGTIDStrictOutOfOrder = 1950
)

// isMySQLError reports whether err is server error number n.
func isMySQLError(err error, n uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == n
}

// The statements that give the next transaction its GTID. GTID fields are
// numbers (and a validated uuid and tag for MySQL) written with strconv:
// SET of these variables is how mariadb-binlog and mysqlbinlog output
// carry GTIDs, and a literal costs no prepare round trip.

// mariadbIDs sets the session's domain and origin server id. It must run
// before mariadbSeq, in its own statement: the server checks gtid_seq_no
// against the domain and server id already in the session.
func mariadbIDs(domain, server uint32) string {
	return "SET SESSION gtid_domain_id = " + strconv.FormatUint(uint64(domain), 10) +
		", SESSION server_id = " + strconv.FormatUint(uint64(server), 10)
}

// mariadbSeq gives the next binlogged transaction sequence number seq; the
// server resets it to 0 after that transaction is binlogged.
func mariadbSeq(seq uint64) string {
	return "SET SESSION gtid_seq_no = " + strconv.FormatUint(seq, 10)
}

// mariadbSeqFor runs q (one statement that commits in autocommit mode)
// as the transaction with sequence number seq, in one round trip: SET
// STATEMENT sets gtid_seq_no for q alone and restores it after.
func mariadbSeqFor(seq uint64, q string) string { return mariadbSeqPrefix(seq) + q }

// mariadbSeqPrefix is what mariadbSeqFor puts before q.
func mariadbSeqPrefix(seq uint64) string {
	return "SET STATEMENT gtid_seq_no = " + strconv.FormatUint(seq, 10) + " FOR "
}

// mariadbNoSeq clears a sequence number the rolled-back (never binlogged)
// transaction did not consume.
const mariadbNoSeq = "SET SESSION gtid_seq_no = 0"

// mysqlGTIDNext makes the next transaction g.
func mysqlGTIDNext(g repl.GTID) (string, error) {
	if g.Flavor != repl.MySQL {
		return "", fmt.Errorf("%s is not a MySQL GTID", g)
	}
	if _, err := repl.GTIDSetOf(repl.MySQL, g); err != nil {
		return "", fmt.Errorf("invalid GTID: %w", err)
	}
	// g.String() is uuid[:tag]:gno: hex digits, dashes, [a-z0-9_] and
	// digits, checked above; it cannot close the literal.
	return "SET GTID_NEXT = '" + g.String() + "'", nil
}

// mysqlAutomatic returns GTID assignment to the server after a transaction
// with an explicit GTID_NEXT committed or rolled back.
const mysqlAutomatic = "SET GTID_NEXT = 'AUTOMATIC'"

// gtidPlan is the statements around one replayed transaction.
type gtidPlan struct {
	ids    string // MariaDB: domain and server id ("" when the session has them)
	before string // gives the GTID
	reset  string // after a rollback (and, for MySQL, after a commit)
}

// planGTID returns the statements that make the next transaction g, given
// the session's current MariaDB domain and server id (curIDs is "" when
// unknown). For MariaDB a fallback plan (fallback true) leaves the
// sequence number to the server, in g's domain, under the new master's own
// server id: the transaction gets a new GTID.
func planGTID(g repl.GTID, curIDs string, fallback bool, ownServerID uint32) (gtidPlan, error) {
	switch g.Flavor {
	case repl.MariaDB:
		p := gtidPlan{reset: mariadbNoSeq}
		if fallback {
			p.ids = mariadbIDs(g.Domain, ownServerID)
			p.before = mariadbNoSeq
		} else {
			p.ids = mariadbIDs(g.Domain, g.Server)
			p.before = mariadbSeq(g.Seq)
		}
		if p.ids == curIDs {
			p.ids = ""
		}
		return p, nil
	case repl.MySQL:
		if fallback {
			return gtidPlan{}, fmt.Errorf("MySQL transaction %s cannot take a new GTID", g)
		}
		s, err := mysqlGTIDNext(g)
		return gtidPlan{before: s, reset: mysqlAutomatic}, err
	}
	return gtidPlan{}, fmt.Errorf("GTID %+v has no flavor", g)
}
