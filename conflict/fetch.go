package conflict

import (
	"slices"

	"github.com/recoup-dev/recoup/repl"
)

// Current is what the applier fetched from the new master for a batch:
// per table (by Table.QualifiedName()), every row matching one of the key
// images NeededKeys listed, each physical row once, values in the order of
// the Fetch's Table.Columns. It may hold more rows than asked (even the
// whole table): the planner compares exactly and ignores the rest. A table
// NeededKeys listed must be present, even with no rows: a key with no
// fetched row is taken to be absent from the new master.
type Current map[string][]repl.Row

// Fetch is what to read from one table for a batch.
type Fetch struct {
	// Table is the schema to select with: its columns, in order.
	Table *repl.Table
	// Sets are the key images to look up, one set per index. A row matching
	// any image of any set must be returned: one SELECT ... WHERE (cols) IN
	// (...) OR (cols) IN (...) per table per batch returns each row once.
	Sets []KeySet
}

// KeySet is a list of key images of one index.
type KeySet struct {
	// Index is "PRIMARY", a unique key's name, or "" when WholeRow.
	Index string
	// Columns are indexes into Table.Columns.
	Columns []int
	// Images are distinct key images, each with one value per Columns
	// entry, in first-seen order. Unique key images never contain NULL.
	Images []repl.Row
	// WholeRow is set for a table with no usable key: Columns are all the
	// columns, the images are whole rows and may contain NULLs, so match
	// them NULL-safely (<=>), and return every identical row: the planner
	// counts duplicates.
	WholeRow bool
}

// NeededKeys lists, per table in first-seen order, the keys the batch txns
// will be checked against: the identity keys of every before- and
// after-image, and the unique key values of every after-image. Changes to a
// table whose schema differs from the one the State first saw are skipped:
// they are conflicts and need no rows.
func (s *State) NeededKeys(txns []repl.Txn) []Fetch {
	return neededKeys(infosFor(s.infos, txns), txns)
}

// KeyLister lists the keys of successive batches as State.NeededKeys does,
// without a State: it pins each table's schema at first sight, as the
// State deciding the same batches in the same order does. A caller can so
// list (and fetch-plan) batch N+1 in one goroutine while the State decides
// batch N in another. A KeyLister is not safe for concurrent use; use a
// new one with each new State.
type KeyLister struct {
	infos map[string]*tableInfo
}

// NewKeyLister starts listing the batches of one State's run.
func NewKeyLister() *KeyLister { return &KeyLister{infos: map[string]*tableInfo{}} }

// NeededKeys is State.NeededKeys for the next batch: call it with every
// batch the State will decide, in order.
func (kl *KeyLister) NeededKeys(txns []repl.Txn) []Fetch {
	kl.infos = infosFor(kl.infos, txns)
	return neededKeys(kl.infos, txns)
}

func neededKeys(infos map[string]*tableInfo, txns []repl.Txn) []Fetch {
	look := tableLookup{infos: infos}
	var out []Fetch
	var sets []*imageSet // per Fetch
	pos := map[string]int{}
	valid := map[*repl.Table]bool{}
	sizes := changesPerTable(txns)
	for i := range txns {
		for _, c := range txns[i].Changes {
			if checkChange(c, valid) != nil {
				continue // Decide reports it
			}
			ti, same := look.of(c.Table)
			if !same {
				continue
			}
			p, ok := pos[ti.name]
			if !ok {
				p = len(out)
				pos[ti.name] = p
				out = append(out, newFetch(ti))
				sets = append(sets, newImageSet(&out[p], sizes[c.Table]))
			}
			if c.Before != nil {
				sets[p].add(&out[p], c.Before, false)
			}
			if c.After != nil {
				sets[p].add(&out[p], c.After, true)
			}
		}
	}
	return out
}

func newFetch(ti *tableInfo) Fetch {
	f := Fetch{Table: ti.t}
	switch {
	case ti.keyless:
		f.Sets = append(f.Sets, KeySet{Columns: ti.key, WholeRow: true})
	case len(ti.t.PrimaryKey) > 0:
		f.Sets = append(f.Sets, KeySet{Index: "PRIMARY", Columns: ti.key})
	default:
		f.Sets = append(f.Sets, KeySet{Index: identityName(ti), Columns: ti.key})
	}
	for _, u := range ti.uniques {
		f.Sets = append(f.Sets, KeySet{Index: u.name, Columns: u.cols})
	}
	return f
}

// identityName is the name of the unique key a table without primary key
// is identified by.
func identityName(ti *tableInfo) string {
	for _, uk := range ti.t.UniqueKeys {
		if slices.Equal(uk.Columns, ti.key) {
			return uk.Name
		}
	}
	return ""
}

// changesPerTable counts the changes of txns per table pointer (runs of
// one table are counted at once: a batch has few tables and many rows).
func changesPerTable(txns []repl.Txn) map[*repl.Table]int {
	n := map[*repl.Table]int{}
	var last *repl.Table
	run := 0
	for i := range txns {
		for _, c := range txns[i].Changes {
			if c.Table != last {
				n[last] += run
				last, run = c.Table, 0
			}
			run++
		}
	}
	n[last] += run
	return n
}

// imageSet collects the distinct key images of one Fetch.
type imageSet struct {
	seen []map[Key]struct{} // per KeySet
	buf  []byte             // the Key being encoded
	slab []repl.Value       // backing store of the images, allocated in chunks
	next int                // the size of the next chunk
}

// newImageSet starts collecting f's images, sized for a table with about
// changes row changes: that many identity images at most once per change
// (an UPDATE that moves a row has two).
func newImageSet(f *Fetch, changes int) *imageSet {
	is := &imageSet{seen: make([]map[Key]struct{}, len(f.Sets))}
	is.seen[0] = make(map[Key]struct{}, changes)
	f.Sets[0].Images = make([]repl.Row, 0, changes)
	return is
}

// add lists img's identity image and, for an after-image, its non-NULL
// unique key images, skipping those already listed.
func (kl *imageSet) add(f *Fetch, img repl.Row, after bool) {
	for i := range f.Sets {
		ks := &f.Sets[i]
		if i > 0 && (!after || anyNull(ks.Columns, img)) {
			continue
		}
		kl.buf = appendCols(kl.buf[:0], ks.Columns, img)
		if kl.seen[i] == nil {
			kl.seen[i] = map[Key]struct{}{}
		}
		if _, dup := kl.seen[i][Key(kl.buf)]; dup {
			continue
		}
		kl.seen[i][Key(kl.buf)] = struct{}{}
		ks.Images = append(ks.Images, kl.project(ks.Columns, img))
	}
}

// project returns r's values at cols, carved out of a slab: a batch lists
// many small images. The chunks double from 16 to 1024 values.
func (kl *imageSet) project(cols []int, r repl.Row) repl.Row {
	if len(kl.slab) < len(cols) {
		kl.next = min(max(2*kl.next, 16), 1024)
		kl.slab = make([]repl.Value, max(kl.next, len(cols)))
	}
	out := kl.slab[:len(cols):len(cols)]
	kl.slab = kl.slab[len(cols):]
	for i, c := range cols {
		out[i] = r[c]
	}
	return out
}
