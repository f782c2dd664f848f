package conflict

import (
	"fmt"

	"github.com/recoup-dev/recoup/repl"
)

// master is an in-memory new master for tests: it answers fetches the way
// the applier is asked to (every row matching a requested image, once) and
// executes plans with the documented semantics, failing where MariaDB
// would (duplicate key, missing row).
type master struct {
	tables map[string]*mtable
	// executed makes run call State.Executed after executing each plan
	// between batches, as the applier does.
	executed bool
}

type mtable struct {
	t    *repl.Table
	rows []repl.Row
}

func newMaster() *master { return &master{tables: map[string]*mtable{}} }

func (m *master) table(t *repl.Table) *mtable {
	mt := m.tables[t.QualifiedName()]
	if mt == nil {
		mt = &mtable{t: t}
		m.tables[t.QualifiedName()] = mt
	}
	return mt
}

// add appends a row, checking key and unique constraints.
func (m *master) add(t *repl.Table, r repl.Row) error {
	mt := m.table(t)
	if err := mt.clash(r, -1); err != nil {
		return err
	}
	mt.rows = append(mt.rows, r)
	return nil
}

// fetch answers NeededKeys like the applier's SELECT would.
func (m *master) fetch(need []Fetch) Current {
	cur := Current{}
	for _, f := range need {
		name := f.Table.QualifiedName()
		cur[name] = []repl.Row{}
		mt := m.tables[name]
		if mt == nil {
			continue
		}
		for _, r := range mt.rows {
			if matchesAny(f, r) {
				cur[name] = append(cur[name], r)
			}
		}
	}
	return cur
}

func matchesAny(f Fetch, r repl.Row) bool {
	for _, ks := range f.Sets {
		p := project(ks.Columns, r)
		for _, img := range ks.Images {
			if p.Equal(img) {
				return true
			}
		}
	}
	return false
}

// clash reports a row other than skip holding r's key or a unique value.
func (mt *mtable) clash(r repl.Row, skip int) error {
	for i, o := range mt.rows {
		if i != skip && mt.holds(o, r) {
			return fmt.Errorf("duplicate key or unique value of %v in %s", r, mt.t.Name)
		}
	}
	return nil
}

// holds reports whether row o has r's identity key (keyed tables) or one of
// its non-NULL unique values.
func (mt *mtable) holds(o, r repl.Row) bool {
	if mt.t.KeyColumns() != nil && KeyOf(mt.t, o) == KeyOf(mt.t, r) {
		return true
	}
	for _, uk := range mt.t.UniqueKeys {
		if !anyNull(uk.Columns, r) && project(uk.Columns, o).Equal(project(uk.Columns, r)) {
			return true
		}
	}
	return false
}

// find returns the index of a row equal to img, or -1.
func (mt *mtable) find(img repl.Row) int {
	for i, r := range mt.rows {
		if r.Equal(img) {
			return i
		}
	}
	return -1
}

func (mt *mtable) removeAt(i int) { mt.rows = append(mt.rows[:i:i], mt.rows[i+1:]...) }

// execute runs one decided transaction.
func (m *master) execute(txn *repl.Txn, d TxnDecision) error {
	if d.Verdict != Apply && d.Verdict != ApplyOverwrite {
		return nil
	}
	for i, c := range txn.Changes {
		var err error
		switch d.Rows[i].Verdict {
		case Apply:
			err = m.table(c.Table).strict(c)
		case ApplyOverwrite:
			m.table(c.Table).overwrite(c)
		}
		if err != nil {
			return fmt.Errorf("executing %s change %d (%s): %w", txn.GTID, i, c.Type(), err)
		}
	}
	return nil
}

// strict applies a change as the applier does for verdict apply, checking
// the before-image.
func (mt *mtable) strict(c repl.RowChange) error {
	at := -1
	if c.Before != nil {
		if at = mt.find(c.Before); at < 0 {
			return fmt.Errorf("no row equals the before-image %v", c.Before)
		}
	}
	if c.After == nil {
		mt.removeAt(at)
		return nil
	}
	if err := mt.clash(c.After, at); err != nil {
		return err
	}
	if at >= 0 {
		mt.rows[at] = c.After
	} else {
		mt.rows = append(mt.rows, c.After)
	}
	return nil
}

// overwrite applies a change with verdict apply-overwrite (REPLACE).
func (mt *mtable) overwrite(c repl.RowChange) {
	keyed := mt.t.KeyColumns() != nil
	if c.Before != nil {
		for i, r := range mt.rows {
			if (keyed && KeyOf(mt.t, r) == KeyOf(mt.t, c.Before)) || (!keyed && r.Equal(c.Before)) {
				mt.removeAt(i)
				break
			}
		}
	}
	if c.After == nil {
		return
	}
	for i := len(mt.rows) - 1; i >= 0; i-- {
		if mt.holds(mt.rows[i], c.After) {
			mt.removeAt(i)
		}
	}
	mt.rows = append(mt.rows, c.After)
}

// run decides txns in batches of the given sizes (the rest in one last
// batch), executing each plan before fetching the next batch when
// between is set, else after all are decided (then, under policy abort, a
// conflict in any batch aborts the earlier plans too, as documented).
func (m *master) run(st *State, txns []repl.Txn, sizes []int, between bool) ([]TxnDecision, error) {
	var plans []*Plan
	var batches [][]repl.Txn
	for len(txns) > 0 {
		n := len(txns)
		if len(sizes) > 0 {
			n = min(max(sizes[0], 1), n)
			sizes = sizes[1:]
		}
		batch := txns[:n]
		txns = txns[n:]
		plan, err := st.Decide(batch, m.fetch(st.NeededKeys(batch)))
		if err != nil {
			return nil, err
		}
		plans, batches = append(plans, plan), append(batches, batch)
		if between {
			if err := m.executePlan(batch, plan); err != nil {
				return nil, err
			}
			if m.executed {
				st.Executed()
			}
		}
	}
	if g, ok := st.FirstConflict(); ok && !between && st.Policy() == PolicyAbort {
		for _, p := range plans {
			p.Abort("conflict in transaction " + g.String())
		}
	}
	var all []TxnDecision
	for i, p := range plans {
		if !between {
			if err := m.executePlan(batches[i], p); err != nil {
				return nil, err
			}
		}
		all = append(all, p.Txns...)
	}
	return all, nil
}

func (m *master) executePlan(batch []repl.Txn, p *Plan) error {
	for i := range batch {
		if err := m.execute(&batch[i], p.Txns[i]); err != nil {
			return err
		}
	}
	return nil
}
