package streamer

import (
	"context"
	"fmt"

	"github.com/recoup-dev/recoup/repl"
)

// seedCheck follows a history seeded from a live server that was already
// past the captured position (a log without a snapshot: a first session
// that stopped before its first transaction, say). The tables were read
// while the master was at or before readAt, capture resumes at from: the
// seed is the schema at from exactly when no DDL ran in between, and the
// session streams those transactions before any other. Until that is
// shown the tables are recorded as uncertain; the first query event
// among them keeps them so, with a warning, and capture passing readAt
// without one clears the flags.
type seedCheck struct {
	from, readAt repl.GTIDSet
	keys         []tableKey
	passed       bool   // a transaction holding readAt came with no query event before it
	skip         uint64 // lookups left before the next check (checkPassed)
}

// uncertainMsg is the warning for tables read from a server that may have
// been ahead of the binlog point they are recorded for.
const uncertainMsg = "schema read from the live server, which has run transactions since: it may include later DDL, " +
	"the table's schema is recorded as uncertain"

// seedAt seeds the history from the live server for the position h.at().
// When the master is already past it, pending reports that the tables
// stay uncertain until the session's stream proves them (seedCheck).
func (h *schemaHistory) seedAt(ctx context.Context) (pending bool, err error) {
	if err := h.seed(ctx); err != nil {
		return false, err
	}
	if h.at == nil {
		return false, nil
	}
	from := h.at()
	cur, err := masterPosition(ctx, h.db, h.flavor)
	if err != nil {
		return false, fmt.Errorf("checking that the schema read from information_schema is not ahead: %w", err)
	}
	if cur.Subset(from) {
		return false, nil
	}
	keys := h.keys()
	h.setUncertain(keys, true)
	h.check = &seedCheck{from: from, readAt: cur, keys: keys}
	h.log.Info("schema history read from the live server, which is past the captured position: its tables are "+
		"recorded as uncertain until capture passes master_gtid with no DDL on the way", "cluster", h.cluster,
		"tables", fmt.Sprint(keys), "gtid", from.String(), "master_gtid", cur.String())
	return true, nil
}

// checkPassed clears the seeded tables' uncertain flags once the current
// transaction's position holds readAt: every transaction the live read
// may include has been streamed without a query event. The pump then
// writes a snapshot. Reading the position costs allocations on every
// table map of a long backlog: while n transactions of readAt are still
// to come, the next n/16 lookups are skipped (a check is then missed only
// when those transactions hold fewer than one table map in 16, and the
// next lookup makes up for it).
func (h *schemaHistory) checkPassed() {
	c := h.check
	if c.skip > 0 {
		c.skip--
		return
	}
	if h.at == nil {
		return
	}
	if left := c.readAt.Subtract(h.at()); !left.IsEmpty() {
		c.skip = left.Count() / 16
		return
	}
	c.passed = true
	h.setUncertain(c.keys, false)
	h.changed = true
	h.log.Info("capture passed the position the schema history was read at, with no DDL on the way: "+
		"the tables are certain", "cluster", h.cluster, "gtid", c.readAt.String())
}

// checkQuery ends the check at a query event. After readAt the seed was
// exact. At or before it, the statement may already be in the tables
// read: they stay uncertain, and the check is returned for warnUnproven
// once the statement is applied.
func (h *schemaHistory) checkQuery() *seedCheck {
	c := h.check
	h.check = nil
	if c.passed && h.at != nil && !h.at().Subset(c.readAt) {
		return nil
	}
	h.setUncertain(c.keys, true)
	return c
}

// warnUnproven warns of the seeded tables a query event in the gap left
// uncertain (one it replaced from its full text, or read again at its own
// position, is certain).
func (h *schemaHistory) warnUnproven(c *seedCheck) {
	if c == nil {
		return
	}
	var left []tableKey
	for _, k := range c.keys {
		if e, ok := h.tables[k]; ok && e.uncertain {
			left = append(left, k)
		}
	}
	if len(left) == 0 {
		return
	}
	h.log.Warn(uncertainMsg, "cluster", h.cluster, "tables", fmt.Sprint(left),
		"reason", "DDL between the captured position and the live read of the schema history",
		"gtid", c.from.String(), "master_gtid", c.readAt.String())
}

// keys lists the history's tables.
func (h *schemaHistory) keys() []tableKey {
	keys := make([]tableKey, 0, len(h.tables))
	for k := range h.tables {
		keys = append(keys, k)
	}
	return keys
}

// setUncertain sets the uncertain flag of the tables of keys the history
// holds; entries are copied, never modified in place.
func (h *schemaHistory) setUncertain(keys []tableKey, uncertain bool) {
	for _, k := range keys {
		if e, ok := h.tables[k]; ok && e.uncertain != uncertain {
			c := *e
			c.uncertain = uncertain
			h.tables[k] = &c
		}
	}
}
