package applier

import (
	"context"
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// syntheticLog is n transactions 0-1-1..0-1-n, with a master state record
// after every tenth one.
func syntheticLog(t *testing.T, n int) []capture.Record {
	var recs []capture.Record
	after := repl.NewGTIDSet(repl.MariaDB)
	for i := 1; i <= n; i++ {
		g := repl.MariaDBGTID(0, 1, uint64(i))
		var err error
		if after, err = after.Add(g); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, capture.Record{Kind: capture.KindTxn, GTID: g, After: after})
		if i%10 == 0 {
			recs = append(recs, capture.Record{Kind: capture.KindMasterState, GTID: g, After: after, Connected: true})
		}
	}
	return recs
}

// countingStore counts ReadFrom calls.
type countingStore struct {
	capture.Store
	reads int
}

func (c *countingStore) ReadFrom(ctx context.Context, from int64) (capture.Reader, error) {
	c.reads++
	return c.Store.ReadFrom(ctx, from)
}

func TestFindStart(t *testing.T) {
	recs := syntheticLog(t, 1000) // 1100 records
	store := &countingStore{Store: localStore(t, recs)}
	tests := []struct {
		executed string
		want     int64 // offset of the first record past the executed set
	}{
		{"", 0},
		{"0-1-1", 1},
		{"0-1-10", 11},    // the master state record after 0-1-10 (offset 10) has After 0-1-10: executed too
		{"0-1-11", 12},    // 0-1-12 is record 12
		{"0-1-999", 1098}, // records 1097 and 1098: 0-1-999 then 0-1-1000
		{"0-1-1000", 1100},
		{"0-1-5000", 1100},
	}
	for _, tt := range tests {
		base, err := repl.ParseGTIDSet(repl.MariaDB, tt.executed)
		if err != nil {
			t.Fatal(err)
		}
		store.reads = 0
		got, err := findStart(t.Context(), store, &executed{flavor: repl.MariaDB, base: base})
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("executed %q: start %d, want %d", tt.executed, got, tt.want)
		}
		if store.reads > 12 {
			t.Errorf("executed %q: %d reads of a 1100-record log, want a binary search (<= 12)", tt.executed, store.reads)
		}
	}
}

func TestFindStartNotRetained(t *testing.T) {
	recs := syntheticLog(t, 30)
	store := localStore(t, recs[5:]) // the log starts after 0-1-5: 1..5 are gone
	base, _ := repl.ParseGTIDSet(repl.MariaDB, "0-1-3")
	_, err := findStart(t.Context(), store, &executed{flavor: repl.MariaDB, base: base})
	if err == nil || !strings.Contains(err.Error(), "retention deleted them") {
		t.Fatalf("err = %v, want a retention error", err)
	}
	base, _ = repl.ParseGTIDSet(repl.MariaDB, "0-1-5")
	if got, err := findStart(t.Context(), store, &executed{flavor: repl.MariaDB, base: base}); err != nil || got != 0 {
		t.Fatalf("executed up to the first retained record: start %d, err %v; want 0, nil", got, err)
	}
}

func TestCaptureStatus(t *testing.T) {
	g := repl.MariaDBGTID(0, 1, 7)
	after, _ := repl.GTIDSetOf(repl.MariaDB, g)
	txn := capture.Record{Kind: capture.KindTxn, GTID: g, After: after, Master: "m:1"}
	failed := func(connected bool) capture.Record {
		return capture.Record{Kind: capture.KindMasterState, GTID: g, After: after, Master: "m:1", Failed: true, Connected: connected}
	}
	sw := capture.Record{Kind: capture.KindMasterSwitch, After: after, From: "m:1", To: "n:1", Master: "n:1"}
	tests := []struct {
		name string
		log  []capture.Record
		want string
	}{
		{"still capturing", []capture.Record{txn}, "unknown-after"},
		{"failed while connected", []capture.Record{txn, failed(true)}, "complete"},
		{"failed while disconnected", []capture.Record{txn, failed(false)}, "unknown-after"},
		{"lost connection", []capture.Record{txn, {Kind: capture.KindMasterState, GTID: g, After: after, Master: "m:1"}}, "unknown-after"},
		{"switched after a connected failure", []capture.Record{txn, failed(true), sw}, "complete"},
	}
	for _, tt := range tests {
		st, err := captureStatus(t.Context(), localStore(t, tt.log))
		if err != nil {
			t.Fatal(err)
		}
		if st.State != tt.want || st.Detail == "" || st.Master != "m:1" {
			t.Errorf("%s: status %+v, want %s of m:1", tt.name, st, tt.want)
		}
		if st.LastGTID != g.String() {
			t.Errorf("%s: LastGTID %q, want %s", tt.name, st.LastGTID, g)
		}
	}
	st, err := captureStatus(t.Context(), localStore(t, nil))
	if err != nil || st.State != "empty" {
		t.Errorf("empty log: %+v, %v", st, err)
	}
}
