package conflict

import (
	"reflect"
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

// TestKeyListerMatchesState lists random batches with a KeyLister ahead of
// the State that decides them: every batch's Fetches must equal the
// State's own NeededKeys, including after a schema change of kv (a second
// schema under the same name, whose rows are conflicts and need no keys).
func TestKeyListerMatchesState(t *testing.T) {
	for seed := range uint64(20) {
		h := newHistory(seed)
		old := newMaster()
		old.table(h.kv)
		old.table(h.bag)
		h.txns(old, 5, 1)
		newM := old.clone()
		txns := h.txns(old, 60, 100)
		altered := *h.kv
		altered.Columns = append(append([]repl.Column(nil), kvCols...), repl.Column{Name: "w", Type: "int", Nullable: true})
		for i := 30; i < len(txns); i += 7 { // the DDL: later changes use the new schema
			for j := range txns[i].Changes {
				if c := &txns[i].Changes[j]; c.Table == h.kv {
					c.Table = &altered
					c.Before, c.After = widen(c.Before), widen(c.After)
				}
			}
		}
		st, err := NewState(PolicyReport)
		if err != nil {
			t.Fatal(err)
		}
		kl := NewKeyLister()
		ahead := map[int][]Fetch{}
		for i := 0; i < len(txns); i += 10 { // list every batch first, as a producer would
			ahead[i] = kl.NeededKeys(txns[i:min(i+10, len(txns))])
		}
		for i := 0; i < len(txns); i += 10 {
			batch := txns[i:min(i+10, len(txns))]
			want := st.NeededKeys(batch)
			if !reflect.DeepEqual(ahead[i], want) {
				t.Fatalf("seed %d, batch at %d: KeyLister listed %+v, State %+v", seed, i, ahead[i], want)
			}
			if _, err := st.DecideFetched(batch, ahead[i], newM.fetch(ahead[i])); err != nil {
				t.Fatalf("seed %d, batch at %d: %v", seed, i, err)
			}
		}
	}
}

// widen appends a NULL for the altered table's extra column.
func widen(r repl.Row) repl.Row {
	if r == nil {
		return nil
	}
	return append(append(repl.Row(nil), r...), null())
}
