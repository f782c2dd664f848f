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

// changeKeys are the identity Keys of a change's images ("" for a missing
// image), encoded once per change and shared by every check.
type changeKeys struct {
	before, after Key
}

// keysOf encodes c's identity Keys under ti.
func keysOf(ti *tableInfo, c repl.RowChange) changeKeys {
	var k changeKeys
	if c.Before != nil {
		k.before = ti.identity(c.Before)
	}
	if c.After != nil {
		k.after = ti.identity(c.After)
	}
	return k
}

// forward checks that change c (identity Keys k) can be applied to view v
// as the old master applied it: the row it changes is there as its
// before-image, and the after-image takes no key or unique value held by
// another row.
func forward(v *layer, ti *tableInfo, c repl.RowChange, k changeKeys) rowEval {
	var self Key
	switch c.Type() {
	case repl.Insert:
		if !ti.keyless {
			self = k.after
			if e := v.get(ti, self); e.n > 0 {
				return mismatch(e.row, c.After, "a different row has the same key")
			}
		}
	case repl.Update, repl.Delete:
		self = k.before
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
		if ka := k.after; !ti.keyless && ka != self {
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
func apply(v *layer, ti *tableInfo, c repl.RowChange, k changeKeys) {
	if c.Before != nil {
		v.removeKey(ti, k.before, 1)
	}
	if c.After != nil {
		v.insertAt(ti, k.after, c.After)
	}
}

// backward checks that view v is already in the state c leaves: its
// after-image is there (a deleted row is absent, a moved row's old key is
// free). A keyless table cannot tell a deleted row from another identical
// one, so a DELETE there always passes.
func backward(v *layer, ti *tableInfo, c repl.RowChange, k changeKeys) bool {
	if c.After == nil {
		return ti.keyless || v.get(ti, k.before).n == 0
	}
	ka := k.after
	e := v.get(ti, ka)
	if ti.keyless {
		return e.n > 0
	}
	if e.n == 0 || !e.row.Equal(c.After) {
		return false
	}
	return c.Before == nil || k.before == ka || v.get(ti, k.before).n == 0
}

// unapply undoes c's effect on v (the backward pass walks a transaction
// from its last change to its first).
func unapply(v *layer, ti *tableInfo, c repl.RowChange, k changeKeys) {
	if c.After != nil {
		v.removeKey(ti, k.after, 1)
	}
	if c.Before != nil {
		v.insertAt(ti, k.before, c.Before)
	}
}

// overwrite makes the row's end state c's after-image whatever v holds
// (source-wins): an UPDATE or DELETE deletes the row at its before-image's
// key (keyless: one row equal to it, if any); an INSERT or UPDATE then
// REPLACEs the after-image, deleting every row holding its key or one of
// its unique values.
func overwrite(v *layer, ti *tableInfo, c repl.RowChange, k changeKeys) {
	if c.Before != nil {
		v.removeKey(ti, k.before, 1)
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
	v.insertAt(ti, k.after, c.After)
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
