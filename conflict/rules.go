package conflict

import (
	"fmt"

	"github.com/recoup-dev/recoup/repl"
)

// rowEval is the outcome of checking one change against a view.
type rowEval struct {
	ok     bool
	cur    repl.Row // the row found instead (nil when absent)
	expect repl.Row // the image cur was compared with
	reason string
}

func mismatch(cur, expect repl.Row, reason string) rowEval {
	return rowEval{cur: cur, expect: expect, reason: reason}
}

// forward checks that change c can be applied to view v as the old master
// applied it: the row it changes is there as its before-image, and the
// after-image takes no key or unique value held by another row.
func forward(v *layer, ti *tableInfo, c repl.RowChange) rowEval {
	var self Key
	switch c.Type() {
	case repl.Insert:
		if !ti.keyless {
			self = ti.identity(c.After)
			if e := v.get(ti, self); e.n > 0 {
				return mismatch(e.row, c.After, "a different row has the same key")
			}
		}
	case repl.Update, repl.Delete:
		self = ti.identity(c.Before)
		e := v.get(ti, self)
		switch {
		case e.n == 0 && ti.keyless:
			return mismatch(nil, c.Before, "no row equals the before-image")
		case e.n == 0:
			return mismatch(nil, c.Before, "the row is absent")
		case !e.row.Equal(c.Before):
			return mismatch(e.row, c.Before, "the row differs from the before-image")
		}
		if c.Type() == repl.Delete {
			return rowEval{ok: true}
		}
		if ka := ti.identity(c.After); !ti.keyless && ka != self {
			if e := v.get(ti, ka); e.n > 0 {
				return mismatch(e.row, c.After, "the new key is held by a different row")
			}
		}
	}
	return uniqueClash(v, ti, c.After, self)
}

// uniqueClash checks that no row but self holds a unique value of img.
func uniqueClash(v *layer, ti *tableInfo, img repl.Row, self Key) rowEval {
	slots, idx := ti.uniqueSlots(img)
	for i, s := range slots {
		if h, ok := v.holder(ti, s); ok && h != self {
			return mismatch(v.get(ti, h).row, img,
				fmt.Sprintf("unique key %s: the value is held by a different row", idx[i].name))
		}
	}
	return rowEval{ok: true}
}

// apply makes c's effect on v.
func apply(v *layer, ti *tableInfo, c repl.RowChange) {
	if c.Before != nil {
		v.remove(ti, c.Before)
	}
	if c.After != nil {
		v.insert(ti, c.After)
	}
}

// backward checks that view v is already in the state c leaves: its
// after-image is there (a deleted row is absent, a moved row's old key is
// free). A keyless table cannot tell a deleted row from another identical
// one, so a DELETE there always passes.
func backward(v *layer, ti *tableInfo, c repl.RowChange) bool {
	if c.After == nil {
		return ti.keyless || v.get(ti, ti.identity(c.Before)).n == 0
	}
	ka := ti.identity(c.After)
	e := v.get(ti, ka)
	if ti.keyless {
		return e.n > 0
	}
	if e.n == 0 || !e.row.Equal(c.After) {
		return false
	}
	return c.Before == nil || ti.identity(c.Before) == ka || v.get(ti, ti.identity(c.Before)).n == 0
}

// unapply undoes c's effect on v (the backward pass walks a transaction
// from its last change to its first).
func unapply(v *layer, ti *tableInfo, c repl.RowChange) {
	if c.After != nil {
		v.remove(ti, c.After)
	}
	if c.Before != nil {
		v.insert(ti, c.Before)
	}
}

// overwrite makes the row's end state c's after-image whatever v holds
// (source-wins): an UPDATE or DELETE deletes the row at its before-image's
// key (keyless: one row equal to it, if any); an INSERT or UPDATE then
// REPLACEs the after-image, deleting every row holding its key or one of
// its unique values.
func overwrite(v *layer, ti *tableInfo, c repl.RowChange) {
	if c.Before != nil {
		v.removeKey(ti, ti.identity(c.Before), 1)
	}
	if c.After == nil {
		return
	}
	slots, _ := ti.uniqueSlots(c.After)
	for _, s := range slots {
		if h, ok := v.holder(ti, s); ok {
			v.removeKey(ti, h, -1)
		}
	}
	v.insert(ti, c.After)
}

// diffColumns lists the columns where cur differs from expect.
func diffColumns(cur, expect repl.Row) []int {
	if cur == nil || expect == nil {
		return nil
	}
	var d []int
	for i := range max(len(cur), len(expect)) {
		if i >= len(cur) || i >= len(expect) || !cur[i].Equal(expect[i]) {
			d = append(d, i)
		}
	}
	return d
}
