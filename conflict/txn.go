package conflict

import (
	"fmt"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// txnEval is the working state of deciding one transaction.
type txnEval struct {
	t    *repl.Txn
	d    *TxnDecision
	ch   []changeEval // per change
	hard bool         // some change is blocked
}

// changeEval is the working state of one change.
type changeEval struct {
	ti      *tableInfo // nil when its schema differs from the pinned one
	keys    changeKeys // its identity Keys under ti
	blocked string     // why it conflicts whatever the rows hold
	fwd     rowEval    // forward (apply) check
	bwd     bool       // backward (already applied) check
}

// decideTxn decides one transaction against the overlay and records its
// effect: apply commits its rows to the overlay, skip taints them.
func (s *State) decideTxn(t *repl.Txn) TxnDecision {
	d := TxnDecision{GTID: t.GTID, Rows: make([]RowDecision, len(t.Changes))}
	e := &txnEval{t: t, d: &d, ch: s.evals(len(t.Changes))}
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

// evals returns n cleared changeEvals. The State reuses one slice for every
// transaction: nothing of it outlives a decideTxn (rows are copied out).
func (s *State) evals(n int) []changeEval {
	if cap(s.evalBuf) < n {
		s.evalBuf = make([]changeEval, n)
	}
	ch := s.evalBuf[:n]
	clear(ch)
	return ch
}

// blockers fills the row headers and finds the changes that conflict
// whatever the rows hold: a changed schema, or a row a skipped transaction
// touched.
func (s *State) blockers(e *txnEval) {
	for i, c := range e.t.Changes {
		ti, same := s.look.of(c.Table)
		img := c.Before
		if img == nil {
			img = c.After
		}
		r, ce := &e.d.Rows[i], &e.ch[i]
		r.Index, r.Table, r.Change = i, ti.name, c.Type()
		if !same {
			other := newTableInfo(c.Table)
			r.Key, r.columns = other.render(img), other.cols
			ce.blocked = "the table's schema differs from the one first seen in this run " +
				"(DDL in the stream?): rows of two schemas cannot be compared"
			e.hard = true
			continue
		}
		ce.ti, ce.keys = ti, keysOf(ti, c)
		r.Key, r.columns = ti.render(img), ti.cols
		if g, ok := s.dependency(ti, ce.keys); ok {
			ce.blocked = "depends on GTID " + g.String() + ", which was skipped"
			e.hard = true
			if e.d.DependsOn == nil {
				dep := g // a copy, so g itself stays off the heap
				e.d.DependsOn = &dep
			}
		}
	}
}

// dependency returns the skipped transaction that touched one of the rows
// of a change with identity Keys k.
func (s *State) dependency(ti *tableInfo, k changeKeys) (repl.GTID, bool) {
	tainted := s.taint[ti.name]
	if tainted == nil {
		return repl.GTID{}, false
	}
	for _, key := range []Key{k.before, k.after} {
		if key == "" {
			continue
		}
		if g, ok := tainted[key]; ok {
			return g, true
		}
	}
	return repl.GTID{}, false
}

// forwardPass checks and applies each change in order on a scratch layer.
func (s *State) forwardPass(e *txnEval) (*layer, bool) {
	l := newLayer(s.overlay, len(e.ch))
	all := true
	for i, c := range e.t.Changes {
		ce := &e.ch[i]
		if ce.ti == nil {
			all = false
			continue
		}
		ce.fwd = forward(l, ce.ti, c, ce.keys)
		if !ce.fwd.ok {
			all = false
			continue
		}
		apply(l, ce.ti, c, ce.keys)
	}
	return l, all
}

// backwardPass checks, from the last change to the first, that the view is
// in the state each change leaves, undoing it on a scratch layer.
func (s *State) backwardPass(e *txnEval) bool {
	l := newLayer(s.overlay, len(e.ch))
	all := true
	for i := len(e.t.Changes) - 1; i >= 0; i-- {
		ce, c := &e.ch[i], e.t.Changes[i]
		if ce.ti == nil || !backward(l, ce.ti, c, ce.keys) {
			all = false
			continue
		}
		ce.bwd = true
		unapply(l, ce.ti, c, ce.keys)
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
		r, ce := &e.d.Rows[i], &e.ch[i]
		switch {
		case ce.blocked != "":
			r.Verdict, r.Reason = Conflict, ce.blocked
		case ce.fwd.ok:
			r.Verdict = Apply
			todo = append(todo, i)
		case ce.bwd:
			r.Verdict = AlreadyApplied
			done = append(done, i)
		default:
			r.Verdict, r.Reason = Conflict, ce.fwd.reason
			r.Current, r.DiffColumns = ce.fwd.cur, diffColumns(ce.fwd.cur, ce.fwd.expect)
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
	l := newLayer(s.overlay, len(e.ch))
	for i, c := range e.t.Changes {
		ti, k, r := e.ch[i].ti, e.ch[i].keys, &e.d.Rows[i]
		r.Reason, r.Current, r.DiffColumns = "", nil, nil
		ev := forward(l, ti, c, k)
		switch {
		case ev.ok:
			r.Verdict = Apply
			apply(l, ti, c, k)
		case backward(l, ti, c, k):
			r.Verdict = AlreadyApplied
		default:
			r.Verdict, r.Reason = ApplyOverwrite, ev.reason
			r.Current, r.DiffColumns = ev.cur, diffColumns(ev.cur, ev.expect)
			overwrite(l, ti, c, k)
		}
	}
	s.overlay.merge(l, s.infos)
}

// skip records that a transaction is not applied: every row (table and
// identity key, before and after) it touches makes later transactions
// touching it depend on it.
func (s *State) skip(e *txnEval) {
	for i, c := range e.t.Changes {
		ti := e.ch[i].ti
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
