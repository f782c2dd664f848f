package streamer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestFollowLossyFailover: the replicas stop receiving, the master commits
// four more transactions (captured) and is killed; a replica is promoted
// and fenced read-only; Orchestrator (a fake API) reports it and the
// poller switches the streamer. Compensation replays two of the lost
// transactions with their original GTIDs, the streamer restarts, and the
// new master writes five of its own, two with the sequence numbers of the
// two lost transactions that were not replayed. The log must hold every
// transaction of the old master once (the lost ones too), then every
// transaction of the new master once, in order, the switch, and the old
// master's failure with Connected set.
func TestFollowLossyFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topo := sandbox.StartTopology(t, sandbox.Options{Replicas: 2})
	old := topo.Primary
	execAll(t, old.DB(t), "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))")
	store := openStore(t, t.TempDir())
	defer store.Close()
	r := startStreamer(t, capConfig(old), store)
	lf := lossyFailover(ctx, t, topo, r)
	refuseReplica(ctx, t, r.s, topo.Replicas[0])
	nm := lf.nm

	orch := fakeOrchestrator(t, "test", orchInstance(nm, true, nil))
	poller, err := NewOrchestratorPoller(r.s, OrchestratorConfig{URL: orch.URL, User: orchUser, Password: orchPassword}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := poller.Poll(ctx); err != nil {
		t.Fatalf("Poll: %v", err)
	}
	if st := r.s.Status(); st.Master != nm.Addr() || !st.Connected {
		t.Fatalf("after the switch: %+v", st)
	}
	if err := poller.Poll(ctx); err != nil { // Orchestrator still says the same: nothing to do
		t.Fatalf("second Poll: %v", err)
	}

	ndb := nm.DB(t)
	replayLost(ctx, t, ndb, lf.lost[:2], 6)
	// Restart in the window (the new master has not passed the lost
	// sequence numbers); the configured master is still the old one.
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	r = startStreamer(t, capConfig(old), store)
	execAll(t, ndb, "SET GLOBAL read_only = OFF")
	insertRows(t, ndb, 100, 5, "new")
	waitCaptured(t, r, nm)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	checkLossyLog(ctx, t, store, lf, old.Addr())
}

// lossy is the outcome of lossyFailover.
type lossy struct {
	initial, captured, fork repl.GTIDSet
	oldTxns, lost           []binlogTxn
	nm                      *sandbox.Instance
}

// lossyFailover: with app.t created before r started, 5 rows reach the
// replicas; replication stops; 4 more are captured and lost; the master
// is killed; a replica is promoted, fenced.
func lossyFailover(ctx context.Context, t *testing.T, topo *sandbox.Topology, r *running) lossy {
	t.Helper()
	old := topo.Primary
	db := old.DB(t)
	var lf lossy
	lf.initial = waitCaptured(t, r, old)
	insertRows(t, db, 1, 5, "before")
	if err := topo.WaitCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	for _, rep := range topo.Replicas {
		if err := rep.StopReplication(ctx); err != nil {
			t.Fatal(err)
		}
	}
	insertRows(t, db, 6, 4, "lost")
	lf.captured = waitCaptured(t, r, old)
	lf.oldTxns = afterInitial(binlogGTIDs(t, db), lf.initial)
	lf.lost = lf.oldTxns[len(lf.oldTxns)-4:]
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	waitDisconnected(t, r)
	lf.nm = promoteFenced(ctx, t, topo)
	var err error
	if lf.fork, err = lf.nm.GTIDSlavePos(ctx); err != nil {
		t.Fatal(err)
	}
	return lf
}

// checkLossyLog: every old transaction (the lost ones too) once, then the
// new master's own once; the switch; the old master complete up to its
// crash; the last record back to a single history.
func checkLossyLog(ctx context.Context, t *testing.T, store capture.Store, lf lossy, oldAddr string) {
	t.Helper()
	recs := readLog(t, store)
	checkNoDuplicate(t, recs)
	want := append([]binlogTxn(nil), lf.oldTxns...)
	for _, b := range afterInitial(binlogGTIDs(t, lf.nm.DB(t)), lf.initial) {
		if !hasGTID(lf.oldTxns, b.gtid) {
			want = append(want, b)
		}
	}
	checkSequence(t, dedupedTxns(t, store), want)
	checkSwitch(t, recs, oldAddr, lf.nm.Addr(), lf.captured, lf.fork)
	c := capture.CaptureStatus(recs, oldAddr)
	if c.State != capture.StateComplete || !c.Failed || c.LastGTID != lf.lost[3].gtid {
		t.Errorf("capture status of the old master = %+v, want complete up to %s", c, lf.lost[3].gtid)
	}
	last := recs[len(recs)-1]
	if pos, _ := lf.nm.GTIDBinlogPos(ctx); !last.MasterPos.IsEmpty() || !last.After.Equal(pos) {
		t.Errorf("last record: After %s MasterPos %s, want After = the new master's position %s and no MasterPos",
			last.After, last.MasterPos, pos)
	}
}

func insertRows(t testing.TB, db *sql.DB, first, n int, what string) {
	t.Helper()
	for i := first; i < first+n; i++ {
		if _, err := db.Exec("INSERT INTO app.t VALUES (?, ?)", i, fmt.Sprintf("%s-%d", what, i)); err != nil {
			t.Fatal(err)
		}
	}
}

func waitDisconnected(t testing.TB, r *running) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.s.Status().Connected {
		if time.Now().After(deadline) {
			t.Fatalf("the streamer did not notice the master's death: %+v", r.s.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// promoteFenced promotes the most advanced replica and fences it
// read-only, as recoup's hook does until compensation is done.
func promoteFenced(ctx context.Context, t testing.TB, topo *sandbox.Topology) *sandbox.Instance {
	t.Helper()
	nm, err := topo.Promote(ctx)
	if err != nil {
		t.Fatal(err)
	}
	execAll(t, nm.DB(t), "SET GLOBAL read_only = ON")
	return nm
}

// refuseReplica: a switch to a server that replicates is refused (the
// streamer does not allow replica sources) and changes nothing.
func refuseReplica(ctx context.Context, t testing.TB, s *Streamer, replica *sandbox.Instance) {
	t.Helper()
	before := s.Status().Master
	_, err := s.SwitchMaster(ctx, SwitchRequest{Master: replica.Addr(), Reason: "test"})
	var pe *PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("switch to the replica %s: err = %v, want a *PreflightError", replica.Addr(), err)
	}
	if s.Status().Master != before || s.Following().Pending != "" {
		t.Fatalf("a refused switch changed the streamer: %+v %+v", s.Status(), s.Following())
	}
}

// replayLost re-executes lost transactions on the new master with their
// original GTIDs, as compensation does; the rows are those insertRows
// wrote from id first on.
func replayLost(ctx context.Context, t testing.TB, db *sql.DB, lost []binlogTxn, first int) {
	t.Helper()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// The connection goes back to the pool: give it its own identity back.
		if _, err := conn.ExecContext(ctx, "SET SESSION server_id = @@GLOBAL.server_id, "+
			"SESSION gtid_domain_id = @@GLOBAL.gtid_domain_id"); err != nil {
			t.Error(err)
		}
		conn.Close()
	}()
	for i, b := range lost {
		for _, q := range []string{
			fmt.Sprintf("SET SESSION gtid_domain_id = %d", b.gtid.Domain),
			fmt.Sprintf("SET SESSION server_id = %d", b.gtid.Server),
			fmt.Sprintf("SET SESSION gtid_seq_no = %d", b.gtid.Seq),
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		id := first + i
		if _, err := conn.ExecContext(ctx, "INSERT INTO app.t VALUES (?, ?)", id, fmt.Sprintf("lost-%d", id)); err != nil {
			t.Fatal(err)
		}
	}
}

// checkNoDuplicate: the streamer never writes a transaction twice.
func checkNoDuplicate(t testing.TB, recs []capture.Record) {
	t.Helper()
	seen := map[repl.GTID]int64{}
	for _, r := range recs {
		if r.Kind != capture.KindTxn {
			continue
		}
		if off, dup := seen[r.GTID]; dup {
			t.Errorf("transaction %s is in the log twice, at offsets %d and %d", r.GTID, off, r.Offset)
		}
		seen[r.GTID] = r.Offset
	}
}

// dedupedTxns reads the whole log through capture.Dedupe.
func dedupedTxns(t testing.TB, store capture.Store) []capture.Record {
	t.Helper()
	ctx := context.Background()
	rd, err := store.ReadFrom(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := capture.Dedupe(rd)
	defer d.Close()
	var out []capture.Record
	for {
		rec, err := d.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind == capture.KindTxn {
			out = append(out, rec)
		}
	}
}

// checkSequence: the transactions are exactly want, in order.
func checkSequence(t testing.TB, txns []capture.Record, want []binlogTxn) {
	t.Helper()
	got := make([]string, len(txns))
	for i, r := range txns {
		got[i] = r.GTID.String()
	}
	exp := make([]string, len(want))
	for i, b := range want {
		exp[i] = b.gtid.String()
	}
	if fmt.Sprint(got) != fmt.Sprint(exp) {
		t.Fatalf("transactions in the log (deduplicated):\n got %v\nwant %v", got, exp)
	}
}

func hasGTID(txns []binlogTxn, g repl.GTID) bool {
	for _, b := range txns {
		if b.gtid == g {
			return true
		}
	}
	return false
}

// checkSwitch: the old master's failure (connected) then the switch, with
// the captured set at the switch and the position capture resumed at.
func checkSwitch(t testing.TB, recs []capture.Record, from, to string, captured, fork repl.GTIDSet) {
	t.Helper()
	for i, r := range recs {
		if r.Kind != capture.KindMasterSwitch {
			continue
		}
		if r.From != from || r.To != to || r.Master != to || !captured.Subset(r.After) || !r.After.Subset(captured) {
			t.Errorf("switch record %+v: want %s -> %s after %s", r, from, to, captured)
		}
		if !fork.IsEmpty() && !r.ResumeAt().Equal(fork) {
			t.Errorf("switch resumes at %s, want the new master's fork point %s", r.ResumeAt(), fork)
		}
		if i == 0 || recs[i-1].Kind != capture.KindMasterState || !recs[i-1].Failed || recs[i-1].Master != from {
			t.Errorf("the record before the switch is not the old master's failure: %+v", recs[max(i-1, 0)])
		}
		return
	}
	t.Fatalf("no switch record in the log")
}

// TestFollowSwitchover: with the master alive, a drain times out (the
// streamer still reads it) and lifts its hold; then, in a planned
// switchover, SwitchMaster leaves the live session for the promoted
// replica, which has every captured transaction: capture resumes at the
// captured position (no fork), the old master is recorded failed while
// connected, and the log holds every transaction once.
func TestFollowSwitchover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topo := sandbox.StartTopology(t, sandbox.Options{Replicas: 1})
	old := topo.Primary
	db := old.DB(t)
	execAll(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))")
	store := openStore(t, t.TempDir())
	defer store.Close()
	r := startStreamer(t, capConfig(old), store)
	initial := waitCaptured(t, r, old)
	insertRows(t, db, 1, 3, "before")
	waitCaptured(t, r, old)

	dctx, dcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := r.s.Drain(dctx, DrainRequest{OldMaster: old.Addr()})
	dcancel()
	if !errors.Is(err, ErrStillConnected) || !r.s.Following().HeldUntil.IsZero() {
		t.Fatalf("drain of a live master: err = %v, hold %v; want ErrStillConnected and no hold", err, r.s.Following().HeldUntil)
	}
	insertRows(t, db, 4, 2, "still")
	captured := waitCaptured(t, r, old)

	execAll(t, db, "SET GLOBAL read_only = ON")
	if err := topo.WaitCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	nm, err := topo.Promote(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.s.SwitchMaster(ctx, SwitchRequest{Master: nm.Addr(), OldMaster: old.Addr(), Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.From != old.Addr() || res.To != nm.Addr() || !res.Connected || !res.Resumed.Equal(captured) {
		t.Errorf("switch = %+v, want from the live old master, resumed at %s", res, captured)
	}
	ndb := nm.DB(t)
	insertRows(t, ndb, 100, 3, "new")
	waitCaptured(t, r, nm)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	recs := readLog(t, store)
	checkNoDuplicate(t, recs)
	checkSequence(t, dedupedTxns(t, store), afterInitial(binlogGTIDs(t, ndb), initial))
	checkSwitch(t, recs, old.Addr(), nm.Addr(), captured, repl.GTIDSet{})
	if c := capture.CaptureStatus(recs, old.Addr()); c.State != capture.StateComplete {
		t.Errorf("capture status of the old master = %+v", c)
	}
}
