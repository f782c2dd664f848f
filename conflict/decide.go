package conflict

import (
	"errors"
	"fmt"
	"maps"

	"github.com/recoup-dev/recoup/repl"
)

// State carries the planner's memory from batch to batch of one
// compensation run: the simulated effects of the transactions decided
// "apply" (or "apply-overwrite"), the rows touched by skipped transactions,
// and the table schemas first seen. It assumes every transaction it
// decided to apply is applied: if the applier fails one, the decisions for
// later transactions are void. A State is not safe for concurrent use.
type State struct {
	policy  Policy
	infos   map[string]*tableInfo        // by QualifiedName: the schema first seen
	overlay *layer                       // effects of planned transactions
	taint   map[string]map[Key]repl.GTID // table -> identity -> skipped txn that touched it
	first   *repl.GTID                   // first conflicting transaction
	look    tableLookup                  // over infos
	evalBuf []changeEval                 // decideTxn's working state, reused
}

// tableLookup finds the tableInfo a change's table is decided with (the
// schema first seen under its name) and whether the table has that schema.
// It remembers the last table pointer: a batch has few table pointers and
// many rows, and QualifiedName and signature build strings.
type tableLookup struct {
	infos map[string]*tableInfo
	last  *repl.Table
	ti    *tableInfo
	same  bool
}

// of returns t's tableInfo (nil when infos lacks its name) and whether t
// compares alike with it.
func (l *tableLookup) of(t *repl.Table) (*tableInfo, bool) {
	if t != l.last {
		l.last, l.ti = t, l.infos[t.QualifiedName()]
		l.same = l.ti != nil && l.ti.sameSchema(t)
	}
	return l.ti, l.same
}

// NewState starts a compensation run under policy p ("" is report).
func NewState(p Policy) (*State, error) {
	p, err := ParsePolicy(string(p))
	if err != nil {
		return nil, err
	}
	return &State{policy: p, infos: map[string]*tableInfo{}, overlay: newLayer(nil, 0),
		taint: map[string]map[Key]repl.GTID{}}, nil
}

// Executed tells the State that every plan it gave so far has been carried
// out on the new master, so the rows fetched for later batches show their
// effects: it drops its simulated copy of those effects, which otherwise
// grows with every row applied and is looked up for every row decided. The
// decisions stay the same (FuzzReplay checks it); the rows of skipped
// transactions stay tainted and the schemas pinned. Never call it while a
// plan is not (or not yet) executed: a dry run, or policy abort, which
// plans every batch first.
func (s *State) Executed() {
	next := newLayer(nil, 0)
	next.sized = make(map[string]int, len(s.overlay.tables))
	for name, tl := range s.overlay.tables { // batches tend to look alike
		next.sized[name] = len(tl.entries)
	}
	s.overlay = next
}

// Policy returns the State's policy.
func (s *State) Policy() Policy { return s.policy }

// FirstConflict returns the first transaction, over all batches so far,
// that conflicted (skipped, aborted or overwritten).
func (s *State) FirstConflict() (repl.GTID, bool) {
	if s.first == nil {
		return repl.GTID{}, false
	}
	return *s.first, true
}

// Decide decides a batch of transactions, in commit order, against cur,
// the rows fetched from the new master for s.NeededKeys(txns), and the
// effects of the batches decided before. It returns an error, and changes
// nothing, when a row image does not fit its table or cur lacks a table.
func (s *State) Decide(txns []repl.Txn, cur Current) (*Plan, error) {
	return s.DecideFetched(txns, s.NeededKeys(txns), cur)
}

// DecideFetched is Decide for a caller that already holds need, the result
// of s.NeededKeys(txns) taken since the last decision: it saves listing
// the keys a second time. need must not be modified in between.
func (s *State) DecideFetched(txns []repl.Txn, need []Fetch, cur Current) (*Plan, error) {
	return s.DecideEach(txns, need, cur, nil)
}

// DecideEach is DecideFetched that also calls each, when not nil, with
// every transaction's index as soon as its decision (Plan.Txns[i], which
// each may read but not modify, from any goroutine once called) is made,
// so a caller can act on it while the rest of the batch is decided. each
// must not call the State. Under policy abort a later conflict overturns
// the decisions already handed out (Plan.Abort): such callers must wait
// for the Plan.
func (s *State) DecideEach(txns []repl.Txn, need []Fetch, cur Current, each func(i int, d *TxnDecision)) (*Plan, error) {
	valid := map[*repl.Table]bool{}
	for i := range txns {
		for j, c := range txns[i].Changes {
			if err := checkChange(c, valid); err != nil {
				return nil, fmt.Errorf("deciding transaction %s, change %d: %w", txns[i].GTID, j, err)
			}
		}
	}
	infos := infosFor(s.infos, txns)
	base, err := buildBase(infos, need, cur)
	if err != nil {
		return nil, err
	}
	s.infos, s.look = infos, tableLookup{infos: infos}
	s.overlay.parent = base
	defer func() { s.overlay.parent = nil }()
	plan := &Plan{Policy: s.policy, Txns: make([]TxnDecision, len(txns))}
	for i := range txns {
		plan.Txns[i] = s.decideTxn(&txns[i])
		if each != nil {
			each(i, &plan.Txns[i])
		}
	}
	if s.policy == PolicyAbort && s.first != nil {
		plan.Abort("conflict in transaction " + s.first.String())
	}
	return plan, nil
}

// checkChange checks that c's images fit its table. valid caches the
// tables that passed Validate during one call (a batch has few schemas
// and many rows).
func checkChange(c repl.RowChange, valid map[*repl.Table]bool) error {
	if c.Table == nil {
		return errors.New("row change has no table")
	}
	if c.Before == nil && c.After == nil {
		return fmt.Errorf("row change on %s has neither a before- nor an after-image", c.Table.QualifiedName())
	}
	if !valid[c.Table] {
		if err := c.Table.Validate(); err != nil {
			return err
		}
		valid[c.Table] = true
	}
	for _, img := range []repl.Row{c.Before, c.After} {
		if img != nil && len(img) != len(c.Table.Columns) {
			return fmt.Errorf("row image on %s has %d values for %d columns", c.Table.QualifiedName(), len(img), len(c.Table.Columns))
		}
	}
	return nil
}

// infosFor returns a copy of pinned plus the schemas first seen in txns.
func infosFor(pinned map[string]*tableInfo, txns []repl.Txn) map[string]*tableInfo {
	infos := maps.Clone(pinned)
	valid := map[*repl.Table]bool{}
	var last *repl.Table
	for i := range txns {
		for _, c := range txns[i].Changes {
			if c.Table == last || checkChange(c, valid) != nil {
				continue // last is listed already
			}
			last = c.Table
			if name := c.Table.QualifiedName(); infos[name] == nil {
				infos[name] = newTableInfo(c.Table)
			}
		}
	}
	return infos
}

// buildBase indexes the fetched rows of every table the batch needs.
func buildBase(infos map[string]*tableInfo, need []Fetch, cur Current) (*layer, error) {
	base := newLayer(nil, 0)
	for _, f := range need {
		ti := infos[f.Table.QualifiedName()]
		rows, ok := cur[ti.name]
		if !ok {
			return nil, fmt.Errorf("deciding a batch: no rows were fetched for table %s (fetch every table NeededKeys lists)", ti.name)
		}
		base.hint = len(rows)
		for i, r := range rows {
			if err := ti.checkRow(r); err != nil {
				return nil, fmt.Errorf("deciding a batch: fetched row %d: %w", i, err)
			}
			base.insert(ti, r)
		}
	}
	return base, nil
}
