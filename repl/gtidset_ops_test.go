package repl

import (
	"math"
	"slices"
	"testing"
)

// TestMariaDBFailoverLoss is the case go-mysql's MariadbGTIDSet gets wrong
// (go-mysql #1122): the captured set has server 1's GTIDs, the new master's
// position names server 2, and the loss must be computed by sequence number.
func TestMariaDBFailoverLoss(t *testing.T) {
	for _, tc := range []struct {
		name, captured, newMaster string
		loss                      string // Subtract's String
		lossCount                 uint64
		healed                    string // Position of newMaster ∪ loss
	}{
		{"promoted replica behind by two", "0-1-10", "0-2-8", "0-1-[9-10]", 2, "0-1-10"},
		{"promoted replica caught up", "0-1-10", "0-2-10", "", 0, "0-2-10"},
		{"promoted replica ahead by its own writes", "0-1-10", "0-2-12", "", 0, "0-2-12"},
		{"second domain never replicated", "0-1-10,1-1-5", "0-2-8", "0-1-[9-10],1-1-5", 7, "0-1-10,1-1-5"},
		{"position after an earlier failover", "0-3-121,1-1-5", "0-3-120,1-1-5", "0-3-[121]", 1, "0-3-121,1-1-5"},
		{"nothing captured", "", "0-3-120,1-1-5", "", 0, "0-3-120,1-1-5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			captured, nm := mustSet(t, MariaDB, tc.captured), mustSet(t, MariaDB, tc.newMaster)
			loss := captured.Subtract(nm)
			if loss.String() != tc.loss || loss.Count() != tc.lossCount {
				t.Fatalf("loss = %q (%d), want %q (%d)", loss, loss.Count(), tc.loss, tc.lossCount)
			}
			if captured.Subset(nm) != loss.IsEmpty() {
				t.Errorf("Subset(captured, newMaster) = %v but loss is %q", captured.Subset(nm), loss)
			}
			healed := nm.Union(loss)
			if healed.Position() != tc.healed {
				t.Errorf("position after replaying the loss = %q, want %q", healed.Position(), tc.healed)
			}
			if !captured.Subset(healed) || !loss.Intersect(nm).IsEmpty() {
				t.Errorf("captured %q not covered by %q, or loss overlaps", captured, healed)
			}
			for g := range loss.All() {
				if nm.Contains(g) || !captured.Contains(g) {
					t.Errorf("loss GTID %s: in new master %v, captured %v", g, nm.Contains(g), captured.Contains(g))
				}
			}
		})
	}
	// Membership ignores server ids: 0-2-5 is the transaction slot 0-1-5 had.
	s := mustSet(t, MariaDB, "0-1-10")
	if !s.Contains(MariaDBGTID(0, 2, 5)) || s.Contains(MariaDBGTID(0, 1, 11)) || s.Contains(MariaDBGTID(1, 1, 5)) {
		t.Error("MariaDB Contains must go by domain and seq only")
	}
}

func TestMySQLLoss(t *testing.T) {
	captured := mustSet(t, MySQL, uuidA+":1-100,\n"+uuidB+":1-50:batch:1-3")
	nm := mustSet(t, MySQL, uuidB+":1-50,\n"+uuidA+":1-97:99")
	loss := captured.Subtract(nm)
	want := uuidA + ":98:100," + uuidB + ":batch:1-3"
	if loss.String() != want || loss.Count() != 5 {
		t.Fatalf("loss = %q (%d), want %q", loss, loss.Count(), want)
	}
	if !captured.Subset(nm.Union(loss)) || captured.Subset(nm) || !nm.Subset(captured.Union(nm)) {
		t.Error("Subset is wrong")
	}
	if got := captured.Intersect(nm).String(); got != uuidA+":1-97:99,"+uuidB+":1-50" {
		t.Errorf("Intersect = %q", got)
	}
	wantLast := []string{uuidA + ":100", uuidB + ":50", uuidB + ":batch:3"}
	var last []string
	for _, g := range captured.Last() {
		last = append(last, g.String())
	}
	if !slices.Equal(last, wantLast) {
		t.Errorf("Last = %v, want %v", last, wantLast)
	}
}

func TestGTIDSetAdd(t *testing.T) {
	a := mustUUID(t, uuidA)
	var s GTIDSet // the zero set takes the flavor of the first GTID
	var err error
	for _, g := range []GTID{MySQLGTID(a, "", 3), MySQLGTID(a, "", 1), MySQLGTID(a, "", 2), MySQLGTID(a, "T", 1)} {
		if s, err = s.Add(g); err != nil {
			t.Fatalf("Add(%s): %v", g, err)
		}
	}
	if s.Flavor() != MySQL || s.String() != uuidA+":1-3:t:1" {
		t.Fatalf("after Adds: %v %q", s.Flavor(), s)
	}
	for _, bad := range []GTID{MariaDBGTID(0, 1, 1), MySQLGTID(a, "", 0), MySQLGTID(a, "", 1<<63), MySQLGTID(a, "1x", 1), {Seq: 1}} {
		if _, err := s.Add(bad); err == nil {
			t.Errorf("Add(%+v) succeeded", bad)
		}
		if s.Contains(bad) {
			t.Errorf("Contains(%+v) = true", bad)
		}
	}
	if _, err := NewGTIDSet(FlavorUnknown).Add(GTID{Seq: 1}); err == nil {
		t.Error("adding a flavorless GTID succeeded")
	}

	m, err := GTIDSetOf(MariaDB, MariaDBGTID(0, 1, 1), MariaDBGTID(0, 1, 2), MariaDBGTID(0, 2, 3), MariaDBGTID(0, 1, 2))
	if err != nil || m.String() != "0-2-3" {
		t.Fatalf("GTIDSetOf = %q, %v; want 0-2-3 (server of the highest seq)", m, err)
	}
	if m2, _ := m.Add(MariaDBGTID(0, 1, 3)); m2.String() != "0-1-3" {
		t.Errorf("re-adding the highest seq from another server: %q, want 0-1-3", m2)
	}
	if _, err := GTIDSetOf(MariaDB, MariaDBGTID(0, 1, 1), MySQLGTID(a, "", 1)); err == nil {
		t.Error("GTIDSetOf with mixed flavors succeeded")
	}
}

func TestGTIDSetServerIDs(t *testing.T) {
	a, b := mustSet(t, MariaDB, "0-1-10"), mustSet(t, MariaDB, "0-2-10")
	if !a.Subset(b) || !b.Subset(a) || a.Equal(b) {
		t.Error("0-1-10 and 0-2-10 hold the same GTIDs but are different positions")
	}
	if a.Union(b).String() != "0-2-10" || b.Union(a).String() != "0-1-10" {
		t.Errorf("on a tie the argument's server id wins: %q %q", a.Union(b), b.Union(a))
	}
	c := mustSet(t, MariaDB, "0-2-[11-12]")
	if got := a.Union(c).String(); got != "0-2-12" {
		t.Errorf("Union = %q, want 0-2-12", got)
	}
	if got := c.Union(a).String(); got != "0-2-12" {
		t.Errorf("Union = %q, want 0-2-12", got)
	}
	if got := a.Union(c).Subtract(c).String(); got != "0-2-10" {
		t.Errorf("Subtract keeps the domain's server id: %q", got)
	}
}

func TestGTIDSetFlavors(t *testing.T) {
	my, ma := mustSet(t, MySQL, uuidA+":1-3"), mustSet(t, MariaDB, "0-1-5")
	var zero GTIDSet
	for _, tc := range []struct {
		name string
		got  GTIDSet
		want Flavor
		str  string
	}{
		{"zero ∪ mysql", zero.Union(my), MySQL, my.String()},
		{"mysql ∪ zero", my.Union(zero), MySQL, my.String()},
		{"empty mariadb ∪ mysql", NewGTIDSet(MariaDB).Union(my), MySQL, my.String()},
		{"mysql ∪ empty mariadb", my.Union(NewGTIDSet(MariaDB)), MySQL, my.String()},
		{"zero ∪ empty mariadb", zero.Union(NewGTIDSet(MariaDB)), MariaDB, ""},
		{"empty mysql ∪ empty mariadb", NewGTIDSet(MySQL).Union(NewGTIDSet(MariaDB)), MySQL, ""},
		{"mariadb − empty mysql", ma.Subtract(NewGTIDSet(MySQL)), MariaDB, "0-1-5"},
		{"zero − mariadb", zero.Subtract(ma), MariaDB, ""},
		{"mariadb ∩ zero", ma.Intersect(zero), MariaDB, ""},
	} {
		if tc.got.Flavor() != tc.want || tc.got.String() != tc.str {
			t.Errorf("%s = %v %q, want %v %q", tc.name, tc.got.Flavor(), tc.got, tc.want, tc.str)
		}
	}
	if zero.String() != "" || zero.Position() != "" || zero.Count() != 0 || !zero.IsEmpty() || len(zero.Last()) != 0 {
		t.Error("the zero set is not empty")
	}
	if !zero.Equal(NewGTIDSet(MySQL)) || !NewGTIDSet(MariaDB).Equal(NewGTIDSet(MySQL)) || my.Equal(ma) {
		t.Error("Equal across flavors is wrong")
	}
	if my.Subset(ma) || !zero.Subset(ma) || ma.Subset(zero) {
		t.Error("Subset across flavors is wrong")
	}
	if my.Contains(MariaDBGTID(0, 1, 1)) {
		t.Error("a MySQL set contains a MariaDB GTID")
	}
	for name, op := range map[string]func(){
		"Union": func() { my.Union(ma) }, "Subtract": func() { ma.Subtract(my) }, "Intersect": func() { my.Intersect(ma) },
	} {
		if !panics(op) {
			t.Errorf("%s of non-empty sets of different flavors did not panic", name)
		}
	}
}

func panics(f func()) (did bool) {
	defer func() { did = recover() != nil }()
	f()
	return false
}

func TestGTIDSetImmutable(t *testing.T) {
	a := mustSet(t, MariaDB, "0-1-[1-5,9],1-1-3")
	b := mustSet(t, MariaDB, "0-2-[4-12],2-1-1")
	as, bs := a.String(), b.String()
	_ = a.Union(b)
	_ = b.Union(a)
	_ = a.Subtract(b)
	_ = a.Intersect(b)
	_, _ = a.Add(MariaDBGTID(0, 3, 7))
	_, _ = a.Add(MariaDBGTID(0, 3, 100))
	if a.String() != as || b.String() != bs {
		t.Fatalf("operands changed: %q %q, were %q %q", a, b, as, bs)
	}
}

func TestGTIDSetAll(t *testing.T) {
	s := mustSet(t, MariaDB, "0-1-[2-3,18446744073709551615],1-7-1")
	var got []string
	for g := range s.All() {
		got = append(got, g.String())
	}
	want := []string{"0-1-2", "0-1-3", "0-1-18446744073709551615", "1-7-1"}
	if !slices.Equal(got, want) {
		t.Fatalf("All = %v, want %v", got, want)
	}
	n := 0
	for range mustSet(t, MySQL, uuidA+":1-9223372036854775807").All() {
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatalf("early break: %d", n)
	}
	if big := mustSet(t, MariaDB, "0-1-18446744073709551615,1-1-18446744073709551615"); big.Count() != math.MaxUint64 {
		t.Errorf("Count does not saturate: %d", big.Count())
	}
}
