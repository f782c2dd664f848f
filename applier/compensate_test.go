package applier

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestCompensate runs one failover through every stage, on one topology:
// the subtests depend on each other and run in order.
func TestCompensate(t *testing.T) {
	s := newScenario(t, 2, appSchema, lostTxns)
	ctx := t.Context()
	// A client changes a row of L9 on the new master, in its own GTID
	// domain (so the lost domain-0 GTIDs stay in order: see the collision test).
	mustExec(t, s.nm.DB(t), "SET SESSION gtid_domain_id = 1", "UPDATE app.chain SET v = 100 WHERE id = 1")
	t.Run("refuses a writable new master", func(t *testing.T) {
		_, err := Compensate(ctx, s.recoupDB, s.store, Options{Flavor: repl.MariaDB})
		if err == nil || !strings.Contains(err.Error(), "read_only=OFF") {
			t.Fatalf("err = %v, want a read_only refusal", err)
		}
	})
	s.fence(t)
	before := binlogGTIDs(t, s.nm)
	t.Run("abort applies nothing", func(t *testing.T) {
		res := s.compensate(t, ctx, Options{Policy: conflict.PolicyAbort, BatchTxns: 4}) // L9 is in the third batch
		if res.Counts.Aborted != len(lostTxns) || res.Counts.Applied != 0 {
			t.Errorf("counts = %+v, want all %d aborted", res.Counts, len(lostTxns))
		}
		if after := binlogGTIDs(t, s.nm); len(after) != len(before) {
			t.Errorf("the new master's binlog went from %d to %d GTIDs", len(before), len(after))
		}
	})
	t.Run("plan", func(t *testing.T) { checkPlan(t, s) })
	t.Run("deadline leaves no partial transaction", func(t *testing.T) { checkDeadline(t, s) })
	t.Run("compensate", func(t *testing.T) { checkCompensated(t, s) })
	t.Run("rows identical to the old master's", func(t *testing.T) {
		if err := s.old.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tbl := range []string{"acct", "src", "audit", "parent", "child", "nokey", "gap"} {
			sameTable(t, s.old, s.nm, "app."+tbl)
		}
		checkRows(t, s.nm, "SELECT COUNT(*) FROM app.audit", "3")
		checkRows(t, s.nm, "SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM app.chain", "1=100,2=5")
	})
	t.Run("rerun applies nothing", func(t *testing.T) {
		res := s.compensate(t, ctx, Options{})
		if res.Counts.Applied != 0 || res.Counts.Missing != 2 || res.Counts.Conflicts != 2 {
			t.Errorf("counts = %+v, want only the 2 conflicts, still missing", res.Counts)
		}
	})
	t.Run("old master rejoins without error 1236", func(t *testing.T) { checkRejoin(t, s) })
	t.Run("source-wins", func(t *testing.T) { checkSourceWins(t, s) })
}

// checkSourceWins: L9 conflicts (the new master changed its row) and is
// overwritten; L10 then applies cleanly. Both come after L12's sequence
// number, so strict mode makes the server give them new GTIDs.
func checkSourceWins(t *testing.T, s *scenario) {
	ctx := t.Context()
	res := s.compensate(t, ctx, Options{Policy: conflict.PolicySourceWins})
	if res.Counts.Overwritten != 1 || res.Counts.Applied != 1 || res.Counts.NewGTIDs != 2 {
		t.Errorf("counts = %+v, want L9 overwritten and L10 applied, both under new GTIDs", res.Counts)
	}
	for _, tr := range res.Txns {
		if g, err := repl.ParseGTID(repl.MariaDB, tr.NewGTID); err != nil || g.Server != s.nm.ServerID {
			t.Errorf("%s: new GTID %q, want one of server %d", tr.GTID, tr.NewGTID, s.nm.ServerID)
		}
	}
	checkRows(t, s.nm, "SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM app.chain", "1=2,2=5")
}

// checkCompensated: after the interrupted run, the rest is applied with
// the original GTIDs, except L9 and L10 (conflict, and depends on it).
// Batches of 3 (L4-L6, L7-L9, L10-L12) put L10 in the batch after L9's, so
// the dependency must survive the planner forgetting the effects of the
// batches already applied (conflict.State.Executed).
func checkCompensated(t *testing.T, s *scenario) {
	ctx := t.Context()
	res := s.compensate(t, ctx, Options{BatchTxns: 3})
	want := Counts{Missing: 9, Applied: 7, Conflicts: 2, Rows: res.Counts.Rows}
	if res.Counts != want {
		t.Errorf("counts = %+v, want %+v", res.Counts, want)
	}
	for _, tr := range res.Txns {
		if tr.GTID == s.lost[9].GTID.String() && tr.DependsOn != s.lost[8].GTID.String() {
			t.Errorf("L10 depends on %q, want L9 %s", tr.DependsOn, s.lost[8].GTID)
		}
	}
	have := binlogGTIDs(t, s.nm)
	for i, rec := range s.lost {
		if applied := have[rec.GTID]; applied != (i != 8 && i != 9) {
			t.Errorf("L%d %s in the new master's binlog: %v", i+1, rec.GTID, applied)
		}
	}
	pos, err := s.nm.GTIDBinlogPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := s.lost[len(s.lost)-1].GTID; !strings.Contains(","+pos.Position()+",", ","+last.String()+",") {
		t.Errorf("gtid_binlog_pos = %s, want domain 0 at the old master's last GTID %s", pos.Position(), last)
	}
}

func checkPlan(t *testing.T, s *scenario) {
	posBefore, err := s.nm.GTIDBinlogPos(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Plan(t.Context(), s.recoupDB, s.store, Options{Flavor: repl.MariaDB})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Txns) != len(lostTxns) || res.StartOffset != s.lost[0].Offset {
		t.Fatalf("plan has %d transactions from offset %d, want %d from %d", len(res.Txns), res.StartOffset, len(lostTxns), s.lost[0].Offset)
	}
	for i, tr := range res.Txns {
		want := conflict.Apply
		if i == 8 || i == 9 {
			want = conflict.Conflict
		}
		if tr.GTID != s.lost[i].GTID.String() || tr.Verdict != want || tr.Applied {
			t.Errorf("txn %d: %s %s applied=%v, want %s %s", i, tr.GTID, tr.Verdict, tr.Applied, s.lost[i].GTID, want)
		}
	}
	if res.Txns[9].DependsOn != s.lost[8].GTID.String() {
		t.Errorf("L10 depends on %q, want %s", res.Txns[9].DependsOn, s.lost[8].GTID)
	}
	if res.Capture.State != "unknown-after" || res.Divergence == "" || res.Missing == "" {
		t.Errorf("capture %+v, divergence %q, missing %q", res.Capture, res.Divergence, res.Missing)
	}
	js, err := json.Marshal(res)
	if err != nil || !strings.Contains(string(js), `"current":{"id":"1","v":"100"}`) {
		t.Errorf("JSON report lacks the conflicting row's current image (err %v): %.2000s", err, js)
	}
	if posAfter, _ := s.nm.GTIDBinlogPos(t.Context()); !posAfter.Equal(posBefore) {
		t.Errorf("Plan changed gtid_binlog_pos from %s to %s", posBefore, posAfter)
	}
}

// checkDeadline holds a gap lock that blocks L4's last insert, so the
// deadline expires inside L4's DB transaction, after its first statements.
func checkDeadline(t *testing.T, s *scenario) {
	lock, err := s.nm.DB(t).BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.ExecContext(t.Context(), "SELECT * FROM app.gap WHERE id < 10 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	res, err := Compensate(ctx, s.recoupDB, s.store, Options{Flavor: repl.MariaDB, BatchTxns: 1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if res.Counts.Applied != 3 || len(res.Txns) != 4 || res.Txns[3].Error == "" || res.Txns[3].Applied {
		t.Fatalf("counts %+v, %d txns: want L1-L3 applied and L4 failed", res.Counts, len(res.Txns))
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s.nm, "recoup")
	have := binlogGTIDs(t, s.nm)
	for i, rec := range s.lost[:4] {
		if have[rec.GTID] != (i < 3) {
			t.Errorf("L%d %s in the binlog: %v", i+1, rec.GTID, have[rec.GTID])
		}
	}
	checkRows(t, s.nm, "SELECT CONCAT_WS(',', (SELECT name FROM app.acct WHERE id = 3), (SELECT COUNT(*) FROM app.acct WHERE id IN (4, 7)), "+
		"(SELECT COUNT(*) FROM app.gap), (SELECT COUNT(*) FROM app.nokey))", "three,1,1,3")
}

// waitGone waits until user has no connection left on in: the server has
// rolled back what a dropped connection left open.
func waitGone(t *testing.T, in *sandbox.Instance, user string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := in.DB(t).QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", user).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections of %s still open", n, user)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkRejoin points the old master at the new one from its own binlog
// position, as an operator does after a failover.
func checkRejoin(t *testing.T, s *scenario) {
	ctx := t.Context()
	mustExec(t, s.old.DB(t), "SET GLOBAL gtid_slave_pos = '"+s.oldPos.Position()+"'")
	if err := s.old.ReplicateFrom(ctx, s.nm); err != nil {
		t.Fatalf("old master replicating from the new one: %v", err)
	}
	if err := sandbox.WaitCaughtUp(ctx, s.old, s.nm); err != nil {
		t.Fatal(err)
	}
	st, err := s.old.ReplicaStatus(ctx)
	if err != nil || !st.Running() || st.LastIOError != "" {
		t.Fatalf("old master replica status %+v, %v", st, err)
	}
}

// checkRows compares the one-value result of q on in with want.
func checkRows(t *testing.T, in *sandbox.Instance, q, want string) {
	t.Helper()
	var got string
	if err := in.DB(t).QueryRowContext(t.Context(), q).Scan(&got); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if got != want {
		t.Errorf("%s on %s = %q, want %q", q, in.Name, got, want)
	}
}

// sameTable compares a table on two servers: CHECKSUM TABLE and a sorted
// dump of every column in hex.
func sameTable(t *testing.T, a, b *sandbox.Instance, table string) {
	t.Helper()
	dump := func(in *sandbox.Instance) (string, string) {
		var name, sum string
		if err := in.DB(t).QueryRowContext(t.Context(), "CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}
		rows, err := in.DB(t).QueryContext(t.Context(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([][]byte, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, strings.Join(hexAll(vals), "|"))
		}
		sortStrings(lines)
		return sum, strings.Join(lines, "\n")
	}
	sumA, rowsA := dump(a)
	sumB, rowsB := dump(b)
	if sumA != sumB || rowsA != rowsB {
		t.Errorf("%s differs: %s has checksum %s\n%s\n%s has checksum %s\n%s", table, a.Name, sumA, rowsA, b.Name, sumB, rowsB)
	}
}
