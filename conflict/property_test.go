package conflict

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

// history generates random but valid transactions on two tables (kv with a
// primary and a nullable unique key, bag with no key), from small value
// domains so that rows collide often.
type history struct {
	rng     *rand.Rand
	kv, bag *repl.Table
}

func newHistory(seed uint64) *history {
	return &history{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), kv: kvTable(), bag: bagTable()}
}

func (h *history) kvRow() repl.Row {
	u := int64(h.rng.IntN(5)) - 1 // NULL, 0..3
	return kvRow(int64(h.rng.IntN(6)+1), string(rune('a'+h.rng.IntN(3))), u)
}

func (h *history) bagRow() repl.Row {
	b := sv(string(rune('x' + h.rng.IntN(2))))
	if h.rng.IntN(3) == 0 {
		b = null()
	}
	return repl.Row{iv(int64(h.rng.IntN(3))), b}
}

// change makes one random change valid on m and applies it there; ok is
// false when the random attempt would break a key.
func (h *history) change(m *master) (repl.RowChange, bool) {
	t, img := h.kv, h.kvRow()
	if h.rng.IntN(3) == 0 {
		t, img = h.bag, h.bagRow()
	}
	mt := m.table(t)
	var c repl.RowChange
	switch op := h.rng.IntN(3); {
	case op == 0 || len(mt.rows) == 0:
		c = ins(t, img)
	case op == 1:
		before := mt.rows[h.rng.IntN(len(mt.rows))]
		if h.rng.IntN(2) == 0 && t == h.kv { // keep the key
			img[0] = before[0]
		}
		c = upd(t, before, img)
	default:
		c = del(t, mt.rows[h.rng.IntN(len(mt.rows))])
	}
	return c, mt.strict(c) == nil
}

// txns makes n transactions of 1 to 3 changes on m, in commit order.
func (h *history) txns(m *master, n int, firstSeq uint64) []repl.Txn {
	var out []repl.Txn
	for len(out) < n {
		tx := repl.Txn{GTID: gtid(firstSeq + uint64(len(out)))}
		for range h.rng.IntN(3) + 1 {
			if c, ok := h.change(m); ok {
				tx.Changes = append(tx.Changes, c)
			}
		}
		out = append(out, tx)
	}
	return out
}

func (m *master) clone() *master {
	c := newMaster()
	for name, mt := range m.tables {
		c.tables[name] = &mtable{t: mt.t, rows: slices.Clone(mt.rows)}
	}
	return c
}

// sameRows compares a table of two masters as multisets.
func sameRows(a, b *master, name string) bool {
	key := func(m *master) []string {
		var s []string
		if mt := m.tables[name]; mt != nil {
			for _, r := range mt.rows {
				s = append(s, string(ValuesKey(r...)))
			}
		}
		slices.Sort(s)
		return s
	}
	return slices.Equal(key(a), key(b))
}

// FuzzReplay generates an old master's history, gives the new master a
// prefix of it (perturbed by divergent writes unless mode says otherwise),
// and replays the rest in random batches. Properties:
//   - every plan executes on the new master (no missing before-image, no
//     duplicate key) whether plans run between batches (followed or not by
//     State.Executed) or after all, and the decisions are the same;
//   - on an unperturbed prefix, every transaction applies and the new
//     master ends equal to the old one;
//   - under source-wins, every kv row the replayed transactions touched
//     ends as on the old master;
//   - under abort, a conflict leaves the new master untouched.
func FuzzReplay(f *testing.F) {
	for seed := range uint64(64) {
		f.Add(seed, uint8(seed*37))
	}
	f.Fuzz(func(t *testing.T, seed uint64, mode uint8) {
		h := newHistory(seed)
		old := newMaster()
		old.table(h.kv)
		old.table(h.bag)
		h.txns(old, 4, 1) // initial data, not replayed
		k := h.rng.IntN(3)
		h.txns(old, k, 100) // the prefix the new master received
		newM := old.clone()
		missing := h.txns(old, h.rng.IntN(12)+1, 200)
		perturb := mode&1 == 1
		if perturb {
			h.txns(newM, h.rng.IntN(4)+1, 900)
		}
		policy := []Policy{PolicyReport, PolicySourceWins, PolicyAbort}[int(mode>>1)%3]
		before := newM.clone()
		st, _ := NewState(policy)
		sizes := []int{h.rng.IntN(4) + 1, h.rng.IntN(4) + 1, h.rng.IntN(4) + 1}
		// Under abort, batches are all planned before any runs (as documented).
		between := mode&8 == 0 && policy != PolicyAbort
		newM.executed = between && mode&16 != 0
		ds, err := newM.run(st, missing, sizes, between)
		if err != nil {
			t.Fatalf("seed %d mode %d: %v\n%s", seed, mode, err, dump(missing))
		}
		if policy != PolicyAbort {
			checkSameDecisions(t, before, policy, missing, sizes, !between, ds)
		}
		switch {
		case !perturb:
			for i, d := range ds {
				if d.Verdict != Apply {
					t.Fatalf("txn %d: %s (%s) on an unperturbed prefix\n%s", i, d.Verdict, d.Reason, dump(missing))
				}
			}
			for name := range old.tables {
				if !sameRows(old, newM, name) {
					t.Fatalf("table %s differs after replay: old %v new %v", name, old.tables[name].rows, newM.tables[name].rows)
				}
			}
		case policy == PolicySourceWins:
			checkSourceWins(t, old, newM, missing, h.kv)
		case policy == PolicyAbort:
			if _, ok := st.FirstConflict(); ok && !(sameRows(before, newM, "db.kv") && sameRows(before, newM, "db.bag")) {
				t.Fatalf("abort changed the new master")
			}
		}
	})
}

// checkSameDecisions decides txns again on a copy of m, executing plans at
// the other moment (between batches or after all): the decisions must not
// change.
func checkSameDecisions(t *testing.T, m *master, p Policy, txns []repl.Txn, sizes []int, between bool, want []TxnDecision) {
	t.Helper()
	st, _ := NewState(p)
	got, err := m.clone().run(st, txns, sizes, between)
	if err != nil {
		t.Fatalf("between=%v: %v", between, err)
	}
	for i := range got {
		if got[i].Verdict != want[i].Verdict || got[i].Reason != want[i].Reason {
			t.Fatalf("txn %d: %s (%s) with between=%v, %s (%s) without", i,
				got[i].Verdict, got[i].Reason, between, want[i].Verdict, want[i].Reason)
		}
	}
}

// checkSourceWins checks that every kv key touched by txns holds on m what
// it holds on old.
func checkSourceWins(t *testing.T, old, m *master, txns []repl.Txn, kv *repl.Table) {
	t.Helper()
	at := func(ms *master, k Key) repl.Row {
		for _, r := range ms.tables["db.kv"].rows {
			if KeyOf(kv, r) == k {
				return r
			}
		}
		return nil
	}
	for _, tx := range txns {
		for _, c := range tx.Changes {
			if c.Table != kv {
				continue
			}
			for _, img := range []repl.Row{c.Before, c.After} {
				if img == nil {
					continue
				}
				k := KeyOf(kv, img)
				if o, n := at(old, k), at(m, k); !o.Equal(n) || (o == nil) != (n == nil) {
					t.Fatalf("key id=%v: old master %v, new master %v\n%s", img[0], o, n, dump(txns))
				}
			}
		}
	}
}

func dump(txns []repl.Txn) string {
	var b strings.Builder
	for _, tx := range txns {
		b.WriteString(tx.GTID.String())
		for _, c := range tx.Changes {
			b.WriteString(" | " + c.Type().String() + " " + c.Table.Name + " " + renderImages([]repl.Row{c.Before}) + " -> " + renderImages([]repl.Row{c.After}))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// BenchmarkDecide decides 1000 random transactions against a diverged new
// master, in batches of 100.
func BenchmarkDecide(b *testing.B) {
	h := newHistory(1)
	old := newMaster()
	h.txns(old, 50, 1)
	newM := old.clone()
	txns := h.txns(old, 1000, 100)
	h.txns(newM, 20, 5000)
	b.ResetTimer()
	for range b.N {
		st, _ := NewState(PolicyReport)
		for i := 0; i < len(txns); i += 100 {
			batch := txns[i:min(i+100, len(txns))]
			if _, err := st.Decide(batch, newM.fetch(st.NeededKeys(batch))); err != nil {
				b.Fatal(err)
			}
		}
	}
}
