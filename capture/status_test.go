package capture_test

import (
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

func TestCaptureStatus(t *testing.T) {
	set := func(s string) repl.GTIDSet { return mustSet(t, repl.MariaDB, s) }
	g := func(seq uint64) repl.GTID { return repl.MariaDBGTID(0, 1, seq) }
	txn := func(seq uint64) capture.Record {
		return capture.Record{Kind: capture.KindTxn, Master: "a:1", GTID: g(seq), After: set("0-1-" + string(rune('0'+seq)))}
	}
	state := func(master string, connected, failed bool, last uint64) capture.Record {
		return capture.Record{Kind: capture.KindMasterState, Master: master, Connected: connected, Failed: failed,
			GTID: g(last), After: set("0-1-" + string(rune('0'+last)))}
	}
	switchTo := capture.Record{Kind: capture.KindMasterSwitch, Master: "b:1", From: "a:1", To: "b:1", After: set("0-1-3")}
	tests := []struct {
		name      string
		tail      []capture.Record
		master    string
		state     string
		failed    bool
		last      string
		inSummary string
	}{
		{"connected when it failed", []capture.Record{state("a:1", true, false, 1), txn(2), txn(3), state("a:1", false, false, 3),
			state("a:1", true, true, 3), switchTo}, "", capture.StateComplete, true, "0-1-3", "complete up to the crash of a:1"},
		{"not connected when it failed", []capture.Record{txn(2), txn(3), state("a:1", false, true, 3), switchTo},
			"", capture.StateUnknownAfter, true, "0-1-3", "unknown after 0-1-3"},
		{"disconnected, not declared failed", []capture.Record{txn(2), state("a:1", false, false, 2)},
			"", capture.StateUnknownAfter, false, "0-1-2", "not declared failed"},
		{"live session", []capture.Record{state("a:1", true, false, 1), txn(2), txn(3)},
			"a:1", capture.StateUnknownAfter, false, "0-1-3", "may still be running"},
		{"switch without failure names the old master", []capture.Record{txn(2), switchTo},
			"", capture.StateUnknownAfter, false, "0-1-2", "no failure of a:1"},
		{"other master's records are ignored", []capture.Record{state("a:1", true, true, 3), txn(4)},
			"c:1", capture.StateUnknownAfter, false, "", "its first transaction"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := capture.CaptureStatus(tc.tail, tc.master)
			last := ""
			if !c.LastGTID.IsZero() {
				last = c.LastGTID.String()
			}
			if c.State != tc.state || c.Failed != tc.failed || last != tc.last || !strings.Contains(c.Summary, tc.inSummary) {
				t.Errorf("CaptureStatus = %+v\nwant state %s failed %v last %q summary containing %q", c, tc.state, tc.failed, tc.last, tc.inSummary)
			}
		})
	}
}
