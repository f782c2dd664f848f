package conflict

import (
	"slices"
	"strconv"

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
	infos := s.infosFor(txns)
	var out []Fetch
	pos := map[string]int{}
	seen := map[string]map[Key]bool{}
	valid := map[*repl.Table]bool{}
	for i := range txns {
		for _, c := range txns[i].Changes {
			if checkChange(c, valid) != nil {
				continue // Decide reports it
			}
			ti := infos[c.Table.QualifiedName()]
			if !ti.sameSchema(c.Table) {
				continue
			}
			p, ok := pos[ti.name]
			if !ok {
				p = len(out)
				pos[ti.name] = p
				out = append(out, newFetch(ti))
			}
			f := &out[p]
			if c.Before != nil {
				addImages(f, ti, c.Before, false, seen)
			}
			if c.After != nil {
				addImages(f, ti, c.After, true, seen)
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

// addImages adds img's identity image and, for an after-image, its non-NULL
// unique key images, skipping those already listed.
func addImages(f *Fetch, ti *tableInfo, img repl.Row, after bool, seen map[string]map[Key]bool) {
	for i := range f.Sets {
		ks := &f.Sets[i]
		if i > 0 && (!after || anyNull(ks.Columns, img)) {
			continue
		}
		k := colsKey(nil, ks.Columns, img)
		id := ti.name + "\x00" + strconv.Itoa(i)
		if seen[id] == nil {
			seen[id] = map[Key]bool{}
		}
		if seen[id][k] {
			continue
		}
		seen[id][k] = true
		ks.Images = append(ks.Images, project(ks.Columns, img))
	}
}
