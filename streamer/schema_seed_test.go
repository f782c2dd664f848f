package streamer

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/logtest"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// seedStep is one transaction the master runs, streamed to the history
// as a row event of app.t (a lookup) or as its query event.
type seedStep struct {
	sql string
	row bool
}

var (
	insertRow = seedStep{"INSERT INTO app.t (a) VALUES (1)", true}
	addColumn = seedStep{"ALTER TABLE app.t ADD COLUMN z INT", false}
)

// TestSeedAhead: a history seeded from a master already past the captured
// position (a log without a snapshot) is uncertain until the stream shows
// whether DDL ran in between: row transactions up to the position the
// tables were read at make it certain with no warning; a query event at
// or before it keeps it uncertain, with the warning. Then the same through
// a streamer: a first session that stops before any transaction, rows
// written while it is stopped, and a restart, which is what the capture
// benchmark does (it logged "DDL whose tables cannot be told" for every
// table before the fix, though no DDL was streamed).
func TestSeedAhead(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	ctx := context.Background()
	pos := func() repl.GTIDSet {
		p, err := masterPosition(ctx, db, repl.MariaDB)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// run runs steps on the master, returning the position after each.
	run := func(steps []seedStep) []repl.GTIDSet {
		var out []repl.GTIDSet
		for _, st := range steps {
			execAll(t, db, st.sql)
			out = append(out, pos())
		}
		return out
	}
	stream := func(h *schemaHistory, steps []seedStep, at []repl.GTIDSet) {
		for i, st := range steps {
			a := at[i]
			h.at = func() repl.GTIDSet { return a }
			var err error
			if st.row {
				_, err = h.lookup(ctx, "app", "t")
			} else {
				err = h.applyDDL(ctx, "app", strings.Replace(st.sql, "app.", "", 1))
			}
			if err != nil {
				t.Fatalf("streaming %q at %s: %v", st.sql, a, err)
			}
		}
	}
	tests := []struct {
		name       string
		gap        []seedStep // run before the seed is read
		unstreamed int        // gap steps left unstreamed at the end
		after      []seedStep // run after the seed, streamed after the gap
		want       string     // uncertainOf at the end
		warn       string     // in a WARN line; "" for none
	}{
		{"master at the captured position", nil, 0, []seedStep{insertRow}, "t", ""},
		{"rows up to the read", []seedStep{insertRow, insertRow}, 0, nil, "t", ""},
		{"rows up to the read, DDL after it", []seedStep{insertRow}, 0, []seedStep{addColumn, insertRow}, "t", ""},
		// Far from the read, lookups skip the check: the last one still makes it.
		{"many rows up to the read", slices.Repeat([]seedStep{insertRow}, 60), 0, nil, "t", ""},
		{"stream not yet at the read", []seedStep{insertRow, insertRow}, 1, nil, "t?", ""},
		{"DDL before the read", []seedStep{insertRow, addColumn, insertRow}, 0, nil, "t?",
			"DDL between the captured position and the live read"},
		// The ALTER cannot apply to the seed (z is there already): t is read
		// again at the ALTER's position, which is the master's: certain.
		{"DDL the read's last transaction", []seedStep{insertRow, addColumn}, 0, nil, "t", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			execAll(t, db, "DROP DATABASE IF EXISTS app", "CREATE DATABASE app",
				"CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, a INT)")
			from := pos()
			gapAt := run(tc.gap)
			var logs logtest.Buffer
			h := newHistory(db, repl.MariaDB, func(s string) bool { return s == "app" }, logs.Logger(), "test")
			s := testStreamer(t, dmlTxn(t, 1)) // a log without a snapshot
			fresh, _, err := s.loadHistory(ctx, h, resume{ok: true, pos: from, after: from})
			if err != nil {
				t.Fatal(err)
			}
			if pending := len(tc.gap) > 0; fresh == pending || (h.check != nil) != pending {
				t.Fatalf("loadHistory: fresh %v, check %v; want pending %v", fresh, h.check, pending)
			}
			if got, want := uncertainOf(h), map[bool]string{false: "t", true: "t?"}[len(tc.gap) > 0]; got != want {
				t.Fatalf("seeded: %s, want %s", got, want)
			}
			h.changed = false
			n := len(tc.gap) - tc.unstreamed
			stream(h, tc.gap[:n], gapAt[:n])
			stream(h, tc.after, run(tc.after))
			if got := uncertainOf(h); got != tc.want {
				t.Errorf("after streaming: %s, want %s", got, tc.want)
			}
			if tc.want == "t" && len(tc.gap) > 0 && !h.changed {
				t.Errorf("seed proven but no snapshot due (changed false)")
			}
			wantWarning(t, &logs, tc.warn)
			if tc.want == "t" {
				compareWithServer(t, h, tc.name)
			}
		})
	}
	t.Run("streamer restarted past an unsnapshotted start", func(t *testing.T) {
		testSeedAheadStreamer(t, inst)
	})
}

// testSeedAheadStreamer: a first session on an empty log stops before any
// transaction (the log holds its master-state record, no snapshot), the
// master writes while capture is stopped, and capture restarts.
func testSeedAheadStreamer(t *testing.T, inst *sandbox.Instance) {
	db := inst.DB(t)
	rows := []string{"INSERT INTO app.t (a) VALUES (1)", "INSERT INTO app.t (a) VALUES (2)", "INSERT INTO app.t (a) VALUES (3)"}
	tests := []struct {
		name      string
		gap       []string
		uncertain bool   // app.t in the last snapshot
		warn      string // in a WARN line; "" for none
	}{
		{"rows only", rows, false, ""},
		{"DDL among them", append([]string{"ALTER TABLE app.t ADD COLUMN w INT"}, rows...), true,
			"DDL between the captured position and the live read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			execAll(t, db, "DROP DATABASE IF EXISTS app", "CREATE DATABASE app",
				"CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, a INT)")
			store := openStore(t, t.TempDir())
			defer store.Close()
			var logs logtest.Buffer
			start := func() *running {
				s, err := New(capConfig(inst), store, logs.Logger(), prometheus.NewRegistry())
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				r := &running{s: s, cancel: cancel, done: make(chan struct{})}
				go func() {
					r.err = s.Run(ctx)
					close(r.done)
				}()
				return r
			}
			r := start()
			waitCaptured(t, r, inst)
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			if snap, ok := lastSnapshot(readLog(t, store)); ok {
				t.Fatalf("the first session wrote a snapshot (%d tables): the test does not reach the seed path", len(snap.Tables))
			}
			execAll(t, db, tc.gap...)
			r = start()
			waitCaptured(t, r, inst)
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			snap, ok := lastSnapshot(readLog(t, store))
			if !ok || len(snap.Tables) != 1 || snap.Tables[0].Table.Name != "t" || snap.Tables[0].Uncertain != tc.uncertain {
				t.Errorf("last snapshot %v (found %v), want app.t with uncertain %v", snap.Tables, ok, tc.uncertain)
			}
			wantWarning(t, &logs, tc.warn)
		})
	}
}

func lastSnapshot(recs []capture.Record) (capture.Record, bool) {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Kind == capture.KindSchema {
			return recs[i], true
		}
	}
	return capture.Record{}, false
}

// wantWarning checks that the log holds a warning with want, or none when
// want is empty.
func wantWarning(t *testing.T, logs *logtest.Buffer, want string) {
	t.Helper()
	warns := logs.Warnings()
	switch {
	case want == "" && len(warns) > 0:
		t.Errorf("unexpected warnings:\n%s", strings.Join(warns, "\n"))
	case want != "" && !strings.Contains(strings.Join(warns, "\n"), want):
		t.Errorf("no warning with %q; log:\n%s", want, logs.String())
	}
}
