package applier

import (
	"fmt"
	"testing"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

// TestCompensateSeqCollision: the new master took writes of its own in the
// lost transactions' domain before recoup ran (Orchestrator makes it
// writable before hooks run), so its sequence numbers collide with the
// lost ones (0-2-n versus 0-1-n) and gtid_strict_mode refuses the
// original, lower ones. The lost transactions must still be found
// (membership by domain and sequence number alone would call them
// executed), replayed under new GTIDs, and recorded old -> new.
func TestCompensateSeqCollision(t *testing.T) {
	schema := []string{"CREATE DATABASE c", "CREATE TABLE c.t (id INT PRIMARY KEY, v INT)", "INSERT INTO c.t VALUES (1, 1)"}
	lost := [][]string{{"INSERT INTO c.t VALUES (2, 2)"}, {"INSERT INTO c.t VALUES (3, 3)"}, {"UPDATE c.t SET v = 10 WHERE id = 1"}}
	s := newScenario(t, 1, schema, lost)
	for i := range 5 {
		mustExec(t, s.nm.DB(t), fmt.Sprintf("INSERT INTO c.t VALUES (%d, 0)", 100+i))
	}
	s.fence(t)
	plan, err := Plan(t.Context(), s.recoupDB, s.store, Options{Flavor: repl.MariaDB})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Txns) != len(lost) || len(plan.Collisions) != len(lost) || plan.WrittenAfter != 5 {
		t.Fatalf("plan: %d missing, %d collisions, %d written after divergence; want %d, %d, 5",
			len(plan.Txns), len(plan.Collisions), plan.WrittenAfter, len(lost), len(lost))
	}
	res := s.compensate(t, t.Context(), Options{})
	if res.Counts.Applied != len(lost) || res.Counts.NewGTIDs != len(lost) {
		t.Fatalf("counts = %+v, want %d applied under new GTIDs", res.Counts, len(lost))
	}
	have := binlogGTIDs(t, s.nm)
	for i, tr := range res.Txns {
		g, err := repl.ParseGTID(repl.MariaDB, tr.NewGTID)
		if err != nil || tr.GTID != s.lost[i].GTID.String() || g.Server != s.nm.ServerID || !have[g] || have[s.lost[i].GTID] {
			t.Errorf("txn %d: %s -> %q (parse err %v): want the lost GTID replayed under a new GTID of server %d",
				i, tr.GTID, tr.NewGTID, err, s.nm.ServerID)
		}
	}
	checkRows(t, s.nm, "SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM c.t WHERE id < 100", "1=10,2=2,3=3")
	again := s.compensate(t, t.Context(), Options{})
	if again.Counts.Applied != 0 || again.Counts.AlreadyApplied != len(lost) {
		t.Errorf("rerun counts = %+v, want the %d replayed transactions found already applied by their rows", again.Counts, len(lost))
	}
	for _, tr := range again.Txns {
		if tr.Verdict != conflict.AlreadyApplied {
			t.Errorf("rerun: %s is %s", tr.GTID, tr.Verdict)
		}
	}
}
