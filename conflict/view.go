package conflict

import "github.com/recoup-dev/recoup/repl"

// entry is what a view knows of one identity Key. For a keyed table n is 0
// (absent) or 1 and row is the row; for a keyless table the Key is the
// whole row, row is that image and n counts the identical rows.
type entry struct {
	row repl.Row
	n   int
}

// layer is one level of the simulated view of the new master. The bottom
// layer holds the rows fetched for a batch; above it the State's overlay
// holds the effects of every transaction decided "apply" so far; above that
// a transaction's own scratch layer holds its effects until its verdict is
// known. An entry in a layer hides every entry below it for the same Key.
type layer struct {
	parent *layer
	tables map[string]*tableLayer
	// hint is how many entries a table of this layer is expected to get,
	// or sized[name] for the tables it lists: its map is made that large,
	// saving the rehashes of growing it.
	hint  int
	sized map[string]int
}

type tableLayer struct {
	entries map[Key]entry
	// uniq maps a unique slot to the Key of this layer's row holding it;
	// nil until the table's first unique slot.
	uniq map[string]Key
}

func newLayer(parent *layer, hint int) *layer {
	return &layer{parent: parent, tables: map[string]*tableLayer{}, hint: hint}
}

func (l *layer) table(ti *tableInfo) *tableLayer {
	tl := l.tables[ti.name]
	if tl == nil {
		n, ok := l.sized[ti.name]
		if !ok {
			n = l.hint
		}
		tl = &tableLayer{entries: make(map[Key]entry, n)}
		l.tables[ti.name] = tl
	}
	return tl
}

// get returns the visible entry for k.
func (l *layer) get(ti *tableInfo, k Key) entry {
	for x := l; x != nil; x = x.parent {
		if tl := x.tables[ti.name]; tl != nil {
			if e, ok := tl.entries[k]; ok {
				return e
			}
		}
	}
	return entry{}
}

// holder returns the Key of the visible row holding a unique slot.
func (l *layer) holder(ti *tableInfo, slot string) (Key, bool) {
	for x := l; x != nil; x = x.parent {
		tl := x.tables[ti.name]
		if tl == nil {
			continue
		}
		k, ok := tl.uniq[slot]
		if !ok {
			continue
		}
		// A layer above x that changed k would have indexed the slot
		// itself if its version of the row still held it.
		for y := l; y != x; y = y.parent {
			if ty := y.tables[ti.name]; ty != nil {
				if _, hidden := ty.entries[k]; hidden {
					return "", false
				}
			}
		}
		return k, true
	}
	return "", false
}

// set replaces this layer's entry for k, keeping its unique index.
func (l *layer) set(ti *tableInfo, k Key, e entry) {
	tl := l.table(ti)
	if old, ok := tl.entries[k]; ok && old.n > 0 {
		slots, _ := ti.uniqueSlots(old.row)
		for _, s := range slots {
			if tl.uniq[s] == k {
				delete(tl.uniq, s)
			}
		}
	}
	if e.n <= 0 {
		e.n = 0
		if !ti.keyless {
			e.row = nil
		}
	}
	tl.entries[k] = e
	if e.n > 0 {
		slots, _ := ti.uniqueSlots(e.row)
		if len(slots) > 0 && tl.uniq == nil {
			tl.uniq = map[string]Key{}
		}
		for _, s := range slots {
			tl.uniq[s] = k
		}
	}
}

// insert adds one row: a keyed table's row at its key is replaced.
func (l *layer) insert(ti *tableInfo, r repl.Row) { l.insertAt(ti, ti.identity(r), r) }

// insertAt is insert of r, whose identity is k.
func (l *layer) insertAt(ti *tableInfo, k Key, r repl.Row) {
	n := 1
	if ti.keyless {
		n = l.get(ti, k).n + 1
	}
	l.set(ti, k, entry{row: r, n: n})
}

// removeKey deletes up to count rows at k (every row when count < 0).
func (l *layer) removeKey(ti *tableInfo, k Key, count int) {
	e := l.get(ti, k)
	n := 0
	if ti.keyless && count >= 0 {
		n = e.n - count
	}
	l.set(ti, k, entry{row: e.row, n: n})
}

// merge copies every entry of child (whose parent is l) into l.
func (l *layer) merge(child *layer, infos map[string]*tableInfo) {
	for name, tl := range child.tables {
		ti := infos[name]
		for k, e := range tl.entries {
			l.set(ti, k, e)
		}
	}
}
