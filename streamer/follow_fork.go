package streamer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// ErrDiverged is wrapped by the error that stops capture when a master's
// history and the captured one have no common point the streamer can
// find: capture cannot continue from it without a gap or a duplicate.
var ErrDiverged = errors.New("the master's history departs from the captured one where no common point is known")

// sessionPlan is where a session starts and what it records first.
type sessionPlan struct {
	start  repl.GTIDSet       // where the dump starts: a position on the master's history
	after  repl.GTIDSet       // the captured set
	window map[repl.GTID]bool // captured transactions of another history, by exact GTID
	head   []capture.Record   // the records announcing the session
}

// plan decides where a session with master starts. The resume position
// is the log's (ResumeAt); on MariaDB, where the master lacks the last
// captured GTID of a domain, the dump starts at the point where the
// master's history meets the captured one (forkPoint). The captured
// transactions beyond the start that the master may still send under the
// same GTID (a lost transaction replayed with its original GTID) form the
// window the pump skips.
func (s *Streamer) plan(ctx context.Context, db *sql.DB, master string, res resume) (sessionPlan, error) {
	p := sessionPlan{start: res.pos, after: res.after}
	forked := false
	if s.cfg.Flavor == repl.MariaDB && res.ok && !res.pos.IsEmpty() {
		start, f, err := s.forkPoint(ctx, db, master, res.pos)
		if err != nil {
			return p, err
		}
		p.start, forked = start, f
		if missing := p.after.Subtract(p.start); !missing.IsEmpty() {
			if p.window, err = s.capturedIn(ctx, missing); err != nil {
				return p, err
			}
		}
	}
	p.head = s.headRecords(master, res, p, forked)
	return p, nil
}

// serverGTIDs is what a MariaDB server says of its history, per domain.
type serverGTIDs struct {
	id     uint32
	binlog map[uint32]repl.GTID // the last GTID of its binary log
	slave  map[uint32]repl.GTID // the last GTID it replicated (kept by RESET SLAVE)
}

func readServerGTIDs(ctx context.Context, db *sql.DB) (serverGTIDs, error) {
	var sv serverGTIDs
	var binlog, slave string
	err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id, @@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_slave_pos").
		Scan(&sv.id, &binlog, &slave)
	if err != nil {
		return sv, fmt.Errorf("reading the master's GTID positions: %w", err)
	}
	if sv.binlog, err = lastByDomain(binlog); err != nil {
		return sv, fatal(fmt.Errorf("parsing the master's gtid_binlog_pos %q: %w", binlog, err))
	}
	if sv.slave, err = lastByDomain(slave); err != nil {
		return sv, fatal(fmt.Errorf("parsing the master's gtid_slave_pos %q: %w", slave, err))
	}
	return sv, nil
}

func lastByDomain(text string) (map[uint32]repl.GTID, error) {
	set, err := repl.ParseGTIDSet(repl.MariaDB, text)
	if err != nil {
		return nil, err
	}
	out := map[uint32]repl.GTID{}
	for _, g := range set.Last() {
		out[g.Domain] = g
	}
	return out, nil
}

// has reports whether the server surely holds g in its binary log: it is
// its binlog's last GTID of the domain, the server wrote it, or the
// server replicated that far in the domain.
func (sv serverGTIDs) has(g repl.GTID) bool {
	if b, ok := sv.binlog[g.Domain]; ok && b == g {
		return true
	}
	if g.Server == sv.id {
		return true
	}
	c, ok := sv.slave[g.Domain]
	return ok && c.Seq >= g.Seq
}

// forkPoint returns where the dump on master starts, and whether that is
// not pos. Per domain, pos's last GTID e stays when the master surely has
// it (has). Otherwise the master is a promoted replica that never received
// e (a lossy failover): its history meets the captured one at c, the last
// GTID it replicated (gtid_slave_pos), which must be older than e and be
// the captured transaction of that sequence number. The domain then
// starts at c; what the master wrote after c, which may reuse the
// sequence numbers of captured transactions it never received, is new. A
// domain the master never saw stays at e: MariaDB accepts it and sends
// nothing of it.
func (s *Streamer) forkPoint(ctx context.Context, db *sql.DB, master string, pos repl.GTIDSet) (repl.GTIDSet, bool, error) {
	sv, err := readServerGTIDs(ctx, db)
	if err != nil {
		return pos, false, err
	}
	start, forked := pos, false
	for _, e := range pos.Last() {
		if sv.has(e) {
			continue
		}
		c, replicated := sv.slave[e.Domain]
		b, logged := sv.binlog[e.Domain]
		switch {
		case replicated && c.Seq < e.Seq:
		case !replicated && !logged:
			continue
		default:
			return pos, false, fatal(fmt.Errorf("%w: domain %d: captured up to %s; %s (server_id %d) has no such GTID, its binlog "+
				"ends at %s and it replicated up to %s", ErrDiverged, e.Domain, e, master, sv.id, b, orNone(c.String())))
		}
		if err := s.checkCommon(ctx, master, c); err != nil {
			return pos, false, err
		}
		if start, err = cutAt(start, e, c); err != nil {
			return pos, false, fatal(err)
		}
		forked = true
		s.log.Warn("the master lacks captured transactions: its history departs from the captured one; capture resumes "+
			"where they meet", "cluster", s.cfg.Cluster, "host", master, "gtid", e.String(), "fork", c.String())
	}
	return start, forked, nil
}

// cutAt returns pos with e's domain ending at c (c.Seq < e.Seq).
func cutAt(pos repl.GTIDSet, e, c repl.GTID) (repl.GTIDSet, error) {
	above, err := repl.ParseGTIDSet(repl.MariaDB, fmt.Sprintf("%d-%d-[%d-%d]", e.Domain, e.Server, c.Seq+1, e.Seq))
	if err != nil {
		return pos, fmt.Errorf("cutting the captured position at %s: %w", c, err)
	}
	return pos.Subtract(above).Add(c)
}

// checkCommon checks that c, where a master's history meets the captured
// one, is the captured transaction of its sequence number (or comes before
// the log's first transaction).
func (s *Streamer) checkCommon(ctx context.Context, master string, c repl.GTID) error {
	rec, ok, err := s.firstRecord(ctx, func(r capture.Record) bool { return r.After.Contains(c) })
	if err != nil {
		return err
	}
	if ok && rec.Kind == capture.KindTxn && rec.GTID != c {
		return fatal(fmt.Errorf("%w: %s last replicated %s, but the captured transaction of that sequence number is %s "+
			"(offset %d): the histories departed earlier", ErrDiverged, master, c, rec.GTID, rec.Offset))
	}
	return nil
}

// capturedIn returns the exact GTIDs of the captured transactions whose
// sequence numbers are in missing, reading the log from the first record
// whose After holds one of them (After only grows: a binary search).
func (s *Streamer) capturedIn(ctx context.Context, missing repl.GTIDSet) (map[repl.GTID]bool, error) {
	first, ok, err := s.firstRecord(ctx, func(r capture.Record) bool { return !r.After.Intersect(missing).IsEmpty() })
	if err != nil || !ok {
		return nil, err
	}
	rd, err := s.store.ReadFrom(ctx, first.Offset)
	if err != nil {
		return nil, fmt.Errorf("reading the capture log from offset %d: %w", first.Offset, err)
	}
	defer rd.Close()
	out := map[repl.GTID]bool{}
	for {
		rec, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the capture log: %w", err)
		}
		if rec.Kind == capture.KindTxn && missing.Contains(rec.GTID) {
			out[rec.GTID] = true
		}
	}
}

// firstRecord finds the first record of the log for which pred holds,
// pred being false then true along the log (as After.Contains is): a
// binary search over offsets.
func (s *Streamer) firstRecord(ctx context.Context, pred func(capture.Record) bool) (capture.Record, bool, error) {
	lo, hi, err := s.store.Bounds(ctx)
	if err != nil {
		return capture.Record{}, false, fmt.Errorf("reading the capture log's bounds: %w", err)
	}
	var found capture.Record
	ok := false
	for lo < hi {
		mid := lo + (hi-lo)/2
		rec, got, err := capture.RecordAt(ctx, s.store, mid, hi)
		switch {
		case err != nil:
			return capture.Record{}, false, err
		case !got:
			hi = mid
		case pred(rec):
			found, ok, hi = rec, true, mid
		default:
			lo = rec.Offset + 1
		}
	}
	return found, ok, nil
}

// headRecords announce a session: where capture resumes on master, or,
// for a switch (or a history that departs from the captured one at the
// same address), the old master's failure unless already recorded, then
// the switch.
func (s *Streamer) headRecords(master string, res resume, p sessionPlan, forked bool) []capture.Record {
	s.mu.Lock()
	pend, last := s.f.pending, s.st.LastGTID
	s.mu.Unlock()
	if pend != nil && pend.to != master {
		pend = nil
	}
	if pend == nil && !forked {
		return []capture.Record{masterState(s.cfg.Cluster, master, p.after, p.start, last, true)}
	}
	from := res.last.Master
	var recs []capture.Record
	if pend != nil {
		from = pend.from
		l := res.last
		if !(l.Kind == capture.KindMasterState && l.Failed && l.Master == from) {
			recs = append(recs, s.failedRecord(from, pend.live || endedConnected(l, from), l))
		}
	}
	return append(recs, capture.Record{Kind: capture.KindMasterSwitch, Cluster: s.cfg.Cluster, Master: master,
		From: from, To: master, After: p.after, MasterPos: masterPos(p.after, p.start), GTID: last})
}

// place fits a transaction the builder finished into the log. One of the
// window (already captured from another history) is skipped; its GTID
// stays in the builder's position, which is the master's history. While
// split, the record's After is the captured set and MasterPos the
// builder's position, until both are equal again.
func (p *pump) place(rec *capture.Record) bool {
	if p.window[rec.GTID] {
		p.s.log.Info("skipping a transaction already captured from an earlier master (replayed with its original GTID)",
			"cluster", p.s.cfg.Cluster, "gtid", rec.GTID.String(), "host", rec.Master)
		return false
	}
	if !p.split {
		return true
	}
	lin := rec.After
	p.after = p.after.Union(lin)
	rec.After, rec.MasterPos = p.after, masterPos(p.after, lin)
	p.split = !rec.MasterPos.IsEmpty()
	return true
}
