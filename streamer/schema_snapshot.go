package streamer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// snapshotEvery is the most records the pump appends between two schema
// snapshots (capture.KindSchema), so that a session start finds the latest
// one by reading about that many records back from the log's end.
const snapshotEvery = 10000

// snapshot lists every table of the history, sorted by name.
func (h *schemaHistory) snapshot() []capture.TableSchema {
	out := make([]capture.TableSchema, 0, len(h.tables))
	for _, e := range h.tables {
		out = append(out, capture.TableSchema{Table: e.t, Charset: e.charset, Collation: e.collation, Uncertain: e.uncertain})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Table, out[j].Table
		return a.Schema < b.Schema || a.Schema == b.Schema && a.Name < b.Name
	})
	return out
}

// restore replaces the history with a snapshot's tables.
func (h *schemaHistory) restore(tables []capture.TableSchema) {
	h.tables = make(map[tableKey]*tableEntry, len(tables))
	h.missing = map[tableKey]bool{}
	h.dbDflt = map[string][2]string{}
	for _, ts := range tables {
		k := tableKey{ts.Table.Schema, ts.Table.Name}
		h.tables[k] = &tableEntry{t: ts.Table, charset: ts.Charset, collation: ts.Collation, uncertain: ts.Uncertain}
	}
}

// snapshotRecord is a KindSchema record of the history at rec's position:
// it repeats rec's cluster, master, After and MasterPos.
func (h *schemaHistory) snapshotRecord(rec capture.Record) capture.Record {
	return capture.Record{Kind: capture.KindSchema, Cluster: rec.Cluster, Master: rec.Master,
		After: rec.After, MasterPos: rec.MasterPos, Tables: h.snapshot()}
}

// loadHistory builds the schema history at the log's durable position.
// With an empty log (first start) it is read from the live server, which
// is at that position. Otherwise it comes from the log: the latest
// KindSchema record, then the DDL of the transactions after it (a batch
// whose snapshot did not become durable with its DDL). fresh reports that
// the log holds no snapshot of this history: the session writes one after
// its first transaction. A seed read from a master already past the
// position is not fresh: it is written once the stream has shown it
// exact, or has shown it may not be (seedCheck).
func (s *Streamer) loadHistory(ctx context.Context, hist *schemaHistory, res resume) (fresh bool, since int, err error) {
	if res.ok {
		snap, after, n, found, err := s.latestSnapshot(ctx)
		if err != nil {
			return false, 0, fmt.Errorf("reading the latest schema snapshot from the capture log: %w", err)
		}
		if found {
			hist.restore(snap.Tables)
			if err := replayDDL(ctx, hist, after); err != nil {
				return false, 0, err
			}
			replayed := hist.changed
			hist.changed = false
			return replayed, n, nil
		}
		s.log.Info("the capture log holds no schema snapshot yet: the schema history is read from the live server "+
			"(tables are marked uncertain if it ran transactions after the captured position)", "cluster", s.cfg.Cluster,
			"gtid", res.after.String())
	}
	pos := res.pos
	hist.at = func() repl.GTIDSet { return pos }
	pending, err := hist.seedAt(ctx)
	if err != nil {
		return false, 0, fmt.Errorf("seeding the schema history: %w", err)
	}
	// A seed still to be proven is written once it is (seedCheck): a
	// session ending before that leaves no snapshot, and the next one
	// seeds again.
	return !pending, 0, nil
}

// latestSnapshot finds the log's last KindSchema record, reading back from
// the end (snapshotEvery records, then twice as many...). after holds the
// transactions after it that carry query events; n is how many records
// follow it.
func (s *Streamer) latestSnapshot(ctx context.Context) (snap capture.Record, after []capture.Record, n int, found bool, err error) {
	first, next, err := s.store.Bounds(ctx)
	if err != nil {
		return snap, nil, 0, false, err
	}
	for window := int64(snapshotEvery + 64); ; window *= 2 {
		from := max(first, next-window)
		snap, after, n, found, err = scanSnapshot(ctx, s.store, from)
		if err != nil || found || from == first {
			return snap, after, n, found, err
		}
	}
}

func scanSnapshot(ctx context.Context, store capture.Store, from int64) (snap capture.Record, after []capture.Record, n int, found bool, err error) {
	rd, err := store.ReadFrom(ctx, from)
	if err != nil {
		return snap, nil, 0, false, err
	}
	defer rd.Close()
	r := capture.Dedupe(rd)
	for {
		rec, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return snap, after, n, found, nil
		}
		if err != nil {
			return snap, nil, 0, false, err
		}
		switch {
		case rec.Kind == capture.KindSchema:
			snap, after, n, found = rec, nil, 0, true
		case found:
			n++
			if rec.Kind == capture.KindTxn && hasQuery(rec) {
				after = append(after, rec)
			}
		}
	}
}

// hasQuery reports whether a record holds a query event (BEGIN included).
func hasQuery(rec capture.Record) bool {
	for _, ev := range rec.Events {
		if len(ev) > 4 {
			switch replication.EventType(ev[4]) {
			case replication.QUERY_EVENT, replication.MARIADB_QUERY_COMPRESSED_EVENT:
				return true
			}
		}
	}
	return false
}

// replayDDL applies the DDL of captured transactions to the history, each
// at its own position.
func replayDDL(ctx context.Context, hist *schemaHistory, recs []capture.Record) error {
	for _, rec := range recs {
		qs, err := recordQueries(rec)
		if err != nil {
			return fmt.Errorf("reading the DDL of captured transaction %s (offset %d): %w", rec.GTID, rec.Offset, err)
		}
		at := rec.ResumeAt()
		for _, q := range qs {
			if !isDDLText(q.Query) {
				continue
			}
			if err := hist.applyDDLAt(ctx, q.Schema, q.Query, func() repl.GTIDSet { return at }); err != nil {
				return fmt.Errorf("replaying DDL of captured transaction %s: %w", rec.GTID, err)
			}
		}
	}
	return nil
}

// recordQueries parses the query events of a captured transaction.
func recordQueries(rec capture.Record) (out []repl.Statement, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go-mysql panicked parsing an event: %s", shorten(fmt.Sprint(r)))
		}
	}()
	p := replication.NewBinlogParser()
	if _, err := p.Parse(rec.FormatDesc); err != nil {
		return nil, fmt.Errorf("format description event: %w", err)
	}
	for _, raw := range rec.Events {
		if len(raw) <= 4 {
			continue
		}
		switch replication.EventType(raw[4]) {
		case replication.QUERY_EVENT, replication.MARIADB_QUERY_COMPRESSED_EVENT:
		default:
			continue
		}
		ev, err := p.Parse(raw)
		if err != nil {
			return nil, err
		}
		if q, ok := ev.Event.(*replication.QueryEvent); ok {
			out = append(out, repl.Statement{Schema: string(q.Schema), Query: strings.TrimSpace(string(q.Query))})
		}
	}
	return out, nil
}

// isDDLText reports whether a query event is handed to the history: what
// txnBuilder.query does not treat as transaction control.
func isDDLText(q string) bool {
	w := strings.ToUpper(firstWords(q, 2))
	switch {
	case w == "COMMIT" || w == "ROLLBACK" || strings.HasPrefix(w, "COMMIT "),
		w == "BEGIN" || w == "SAVEPOINT" || w == "RELEASE SAVEPOINT",
		strings.HasPrefix(w, "ROLLBACK ") || strings.HasPrefix(w, "XA "):
		return false
	}
	return true
}
