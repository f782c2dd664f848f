package conflict

import (
	"fmt"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// txnEval is the working state of deciding one transaction.
type txnEval struct {
	t       *repl.Txn
	d       *TxnDecision
	tis     []*tableInfo // per change; nil when its schema differs from the pinned one
	blocked []string     // per change: why it conflicts whatever the rows hold
	hard    bool         // some change is blocked
	fwd     []rowEval    // forward (apply) check per change
	bwd     []bool       // backward (already applied) check per change
}

// decideTxn decides one transaction against the overlay and records its
// effect: apply commits its rows to the overlay, skip taints them.
func (s *State) decideTxn(t *repl.Txn) TxnDecision {
	d := TxnDecision{GTID: t.GTID, Rows: make([]RowDecision, len(t.Changes))}
	n := len(t.Changes)
	e := &txnEval{t: t, d: &d, tis: make([]*tableInfo, n), blocked: make([]string, n),
		fwd: make([]rowEval, n), bwd: make([]bool, n)}
	s.blockers(e)
	clean := !e.hard && len(t.Statements) == 0
	scratch, fwdOK := s.forwardPass(e)
	if clean && fwdOK {
		s.overlay.merge(scratch, s.infos)
		e.setAll(Apply)
		return d
	}
	if bwdOK := s.backwardPass(e); clean && bwdOK {
		e.setAll(AlreadyApplied)
		return d
	}
	d.Reason = joinReasons(statementReason(t), e.classify())
	if s.first == nil {
		g := t.GTID
		s.first = &g
	}
	if s.policy == PolicySourceWins && !e.hard {
		s.force(e)
		d.Verdict = ApplyOverwrite
		return d
	}
	s.skip(e)
	d.Verdict = Conflict
	return d
}

// blockers fills the row headers and finds the changes that conflict
// whatever the rows hold: a changed schema, or a row a skipped transaction
// touched.
func (s *State) blockers(e *txnEval) {
	for i, c := range e.t.Changes {
		ti := s.infos[c.Table.QualifiedName()]
		img := c.Before
		if img == nil {
			img = c.After
		}
		r := &e.d.Rows[i]
		r.Index, r.Table, r.Change, r.columns = i, ti.name, c.Type(), columnNames(c.Table)
		if !ti.sameSchema(c.Table) {
			r.Key = newTableInfo(c.Table).render(img)
			e.blocked[i] = "the table's schema differs from the one first seen in this run " +
				"(DDL in the stream?): rows of two schemas cannot be compared"
			e.hard = true
			continue
		}
		e.tis[i] = ti
		r.Key = ti.render(img)
		if g, ok := s.dependency(ti, c); ok {
			e.blocked[i] = "depends on GTID " + g.String() + ", which was skipped"
			e.hard = true
			if e.d.DependsOn == nil {
				e.d.DependsOn = &g
			}
		}
	}
}

// dependency returns the skipped transaction that touched one of c's rows.
func (s *State) dependency(ti *tableInfo, c repl.RowChange) (repl.GTID, bool) {
	tainted := s.taint[ti.name]
	if tainted == nil {
		return repl.GTID{}, false
	}
	for _, img := range []repl.Row{c.Before, c.After} {
		if img == nil {
			continue
		}
		if g, ok := tainted[ti.identity(img)]; ok {
			return g, true
		}
	}
	return repl.GTID{}, false
}

// forwardPass checks and applies each change in order on a scratch layer.
func (s *State) forwardPass(e *txnEval) (*layer, bool) {
	l := newLayer(s.overlay)
	all := true
	for i, c := range e.t.Changes {
		ti := e.tis[i]
		if ti == nil {
			all = false
			continue
		}
		e.fwd[i] = forward(l, ti, c)
		if !e.fwd[i].ok {
			all = false
			continue
		}
		apply(l, ti, c)
	}
	return l, all
}

// backwardPass checks, from the last change to the first, that the view is
// in the state each change leaves, undoing it on a scratch layer.
func (s *State) backwardPass(e *txnEval) bool {
	l := newLayer(s.overlay)
	all := true
	for i := len(e.t.Changes) - 1; i >= 0; i-- {
		ti, c := e.tis[i], e.t.Changes[i]
		if ti == nil || !backward(l, ti, c) {
			all = false
			continue
		}
		e.bwd[i] = true
		unapply(l, ti, c)
	}
	return all
}

func (e *txnEval) setAll(v Verdict) {
	e.d.Verdict = v
	for i := range e.d.Rows {
		e.d.Rows[i].Verdict = v
	}
}

// classify gives each row its own verdict and returns the transaction's
// conflict reason: the first conflicting row, or a partial application
// (some rows already applied, others not).
func (e *txnEval) classify() string {
	var first string
	var done, todo []int
	for i := range e.d.Rows {
		r := &e.d.Rows[i]
		switch {
		case e.blocked[i] != "":
			r.Verdict, r.Reason = Conflict, e.blocked[i]
		case e.fwd[i].ok:
			r.Verdict = Apply
			todo = append(todo, i)
		case e.bwd[i]:
			r.Verdict = AlreadyApplied
			done = append(done, i)
		default:
			r.Verdict, r.Reason = Conflict, e.fwd[i].reason
			r.Current, r.DiffColumns = e.fwd[i].cur, diffColumns(e.fwd[i].cur, e.fwd[i].expect)
		}
		if r.Verdict == Conflict && first == "" {
			first = fmt.Sprintf("row %d (%s %s %s): %s", i, r.Change, r.Table, r.Key, r.Reason)
		}
	}
	if first != "" || len(done) == 0 || len(todo) == 0 {
		return first
	}
	return fmt.Sprintf("partially applied: rows %s are already applied and rows %s are not; "+
		"a transaction is applied whole or not at all", ints(done), ints(todo))
}

// force plans a conflicting transaction under source-wins: rows that apply
// cleanly apply, rows already in their end state are skipped, the others
// are overwritten with their after-images.
func (s *State) force(e *txnEval) {
	l := newLayer(s.overlay)
	for i, c := range e.t.Changes {
		ti, r := e.tis[i], &e.d.Rows[i]
		r.Reason, r.Current, r.DiffColumns = "", nil, nil
		ev := forward(l, ti, c)
		switch {
		case ev.ok:
			r.Verdict = Apply
			apply(l, ti, c)
		case backward(l, ti, c):
			r.Verdict = AlreadyApplied
		default:
			r.Verdict, r.Reason = ApplyOverwrite, ev.reason
			r.Current, r.DiffColumns = ev.cur, diffColumns(ev.cur, ev.expect)
			overwrite(l, ti, c)
		}
	}
	s.overlay.merge(l, s.infos)
}

// skip records that a transaction is not applied: every row (table and
// identity key, before and after) it touches makes later transactions
// touching it depend on it.
func (s *State) skip(e *txnEval) {
	for i, c := range e.t.Changes {
		ti := e.tis[i]
		if ti == nil { // another schema: its own key columns
			ti = newTableInfo(c.Table)
		}
		if s.taint[ti.name] == nil {
			s.taint[ti.name] = map[Key]repl.GTID{}
		}
		for _, img := range []repl.Row{c.Before, c.After} {
			if img == nil {
				continue
			}
			s.taint[ti.name][ti.identity(img)] = e.t.GTID
		}
	}
}

func statementReason(t *repl.Txn) string {
	if len(t.Statements) == 0 {
		return ""
	}
	return fmt.Sprintf("the transaction has %d statement(s) that are not row changes "+
		"(DDL or statement-format) and cannot be checked", len(t.Statements))
}

func joinReasons(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}
