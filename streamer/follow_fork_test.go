package streamer

import (
	"testing"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

func gtidSet(t testing.TB, s string) repl.GTIDSet {
	t.Helper()
	set, err := repl.ParseGTIDSet(repl.MariaDB, s)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestServerHas: when the streamer may resume at a captured GTID on a
// server, and when the server's history must be searched for the fork.
func TestServerHas(t *testing.T) {
	g := repl.MariaDBGTID
	sv := serverGTIDs{id: 2,
		binlog: map[uint32]repl.GTID{0: g(0, 2, 105), 1: g(1, 1, 7), 2: g(2, 1, 50)},
		slave:  map[uint32]repl.GTID{0: g(0, 1, 96), 2: g(2, 1, 40)}}
	tests := []struct {
		name string
		e    repl.GTID
		want bool
	}{
		{"its binlog ends with it", g(1, 1, 7), true},
		{"it wrote it", g(0, 2, 100), true},
		{"it replicated past it", g(0, 1, 90), true},
		{"it replicated exactly it", g(0, 1, 96), true},
		{"lost: beyond what it replicated, written by the old master", g(0, 1, 100), false},
		{"same sequence number as its own, other server", g(0, 1, 105), false},
		{"domain it replicated less of", g(2, 1, 45), false},
		{"domain it never saw", g(5, 1, 3), false},
	}
	for _, tc := range tests {
		if got := sv.has(tc.e); got != tc.want {
			t.Errorf("%s: has(%s) = %v, want %v", tc.name, tc.e, got, tc.want)
		}
	}
}

func TestCutAt(t *testing.T) {
	pos := gtidSet(t, "0-1-100,1-2-7")
	got, err := cutAt(pos, repl.MariaDBGTID(0, 1, 100), repl.MariaDBGTID(0, 3, 96))
	if err != nil {
		t.Fatal(err)
	}
	if got.Position() != "0-3-96,1-2-7" || got.Contains(repl.MariaDBGTID(0, 1, 97)) || !got.Contains(repl.MariaDBGTID(0, 1, 1)) {
		t.Errorf("cutAt = %s (position %s), want 0-[1-96] ending with 0-3-96, and 1-2-7", got, got.Position())
	}
}

func TestEndedConnected(t *testing.T) {
	state := func(master string, connected, failed bool) capture.Record {
		return capture.Record{Kind: capture.KindMasterState, Master: master, Connected: connected, Failed: failed}
	}
	tests := []struct {
		name string
		last capture.Record
		want bool
	}{
		{"its session's disconnection", state("a:1", false, false), true},
		{"a session connected and then nothing (streamer stopped)", state("a:1", true, false), false},
		{"a transaction (streamer killed)", capture.Record{Kind: capture.KindTxn, Master: "a:1"}, false},
		{"failure recorded connected", state("a:1", true, true), true},
		{"failure recorded not connected", state("a:1", false, true), false},
		{"another master's disconnection", state("b:1", false, false), false},
	}
	for _, tc := range tests {
		if got := endedConnected(tc.last, "a:1"); got != tc.want {
			t.Errorf("%s: endedConnected = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMasterPos(t *testing.T) {
	after := gtidSet(t, "0-1-100")
	if mp := masterPos(after, gtidSet(t, "0-1-100")); !mp.IsEmpty() {
		t.Errorf("equal positions: MasterPos = %s, want none", mp)
	}
	if mp := masterPos(after, gtidSet(t, "0-2-98")); mp.String() != "0-2-98" {
		t.Errorf("forked: MasterPos = %s, want 0-2-98", mp)
	}
	// Same sequence numbers, other server id of the highest: the new
	// history's position is written, since that is where capture resumes.
	if mp := masterPos(after, gtidSet(t, "0-2-100")); mp.String() != "0-2-100" {
		t.Errorf("same numbers, other server: MasterPos = %s, want 0-2-100", mp)
	}
}
