package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/hook"
	"github.com/recoup-dev/recoup/hook/route"
	"github.com/recoup-dev/recoup/test/haproxytest"
	kafkatest "github.com/recoup-dev/recoup/test/kafka"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestMain silences the MySQL driver's log of broken connections (the
// hammer meets plenty while the proxy has no writer) and runs the tests
// with the shared Kafka broker.
func TestMain(m *testing.M) {
	_ = mysql.SetLogger(quietMySQL{})
	kafkatest.Main(m)
}

type quietMySQL struct{}

func (quietMySQL) Print(...any) {}

// Phases of the client workload.
const (
	clients        = 3
	rowsReplicated = 20 // per client, before replication stops
	rowsLost       = 15 // per client, on the old master only
	hammerClient   = 99
)

// TestFailoverHook is the whole story, once per capture store: clients
// write through HAProxy; replication stops; the master commits more and
// is killed; a replica is promoted the Orchestrator way (writable); the
// `recoup hook` binary runs with Orchestrator's arguments while a client
// hammers writes through HAProxy. Every acknowledged write must be on the
// new master with its original GTID, no hammer write may land before
// compensation finished, the old master must rejoin, and a rerun must
// change nothing.
func TestFailoverHook(t *testing.T) {
	bin := buildRecoup(t)
	for _, tc := range []struct {
		name                        string
		kafka, daemon, racing, semi bool
	}{
		{"local-store-in-process-streamer", false, false, false, false},
		{"kafka-daemon-racing-hooks", true, true, true, false},
		{"semi-sync-daemon-killed-at-once", false, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.kafka, bin)
			if tc.semi {
				r.enableSemiSync()
			}
			stop := r.startStreamer
			if tc.daemon {
				stop = r.startDaemon
			}
			testFailoverHook(t, r, stop(), tc.racing)
		})
	}
}

// testFailoverHook runs the story on r, whose capture runs (in-process
// or as the daemon, which the hook then tells); racing runs two post-failover
// hooks of the same recovery at once (as with recoup configured in both
// PostMasterFailoverProcesses and PostFailoverProcesses of two
// Orchestrator nodes): one does the work, the other waits for the
// cluster lock and finds it done.
func testFailoverHook(t *testing.T, r *rig, stopCapture func(), racing bool) {
	ctx := t.Context()
	defer stopCapture()
	db := r.proxyDB()
	var acked ledger
	if err := writeBatch(ctx, db, &acked, clients, 0, rowsReplicated); err != nil {
		t.Fatal(err)
	}
	if err := r.topo.WaitCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	for _, rep := range r.topo.Replicas {
		if err := rep.StopReplication(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var noTx string
	if r.semiSync {
		r.waitSemiSync()
		noTx = r.semiSyncStatus("NO_TX")
	}
	if err := writeBatch(ctx, db, &acked, clients, rowsReplicated, rowsLost); err != nil {
		t.Fatal(err)
	}
	if r.semiSync {
		// Semi-synchronous: every acknowledged commit is captured, so the
		// master is killed at once, without waiting for capture.
		if got := r.semiSyncStatus("NO_TX"); got != noTx {
			t.Fatalf("the old master stopped waiting for the streamer during the writes (no_tx %s -> %s)", noTx, got)
		}
	} else {
		oldPos, err := r.old.GTIDBinlogPos(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r.waitCaptured(oldPos)
	}
	if err := r.old.Kill(); err != nil {
		t.Fatal(err)
	}
	rec := Recovery{Failed: r.old.Addr(), Alias: cluster, UID: fmt.Sprintf("%d:%s", time.Now().UnixNano(), randomHex(t, 32)),
		Replicas: []string{r.topo.Replicas[0].Addr(), r.topo.Replicas[1].Addr()}}
	pre := r.preFailover(rec)
	nm := r.promote(&rec)
	stop := make(chan struct{})
	h := startHammer(ctx, db, hammerClient, 5*time.Millisecond, time.Minute, stop)
	run := r.postFailover(rec, racing)
	sum := r.runRecord(rec.UID)
	waitAcks(h, sum.WritesOpenedAt, 20, 10*time.Second)
	close(stop)
	<-h.done
	t.Logf("pre-failover hook: %s", strings.TrimSpace(pre.stdout))
	t.Logf("hook start -> writes open: %.1f ms (hook process wall time %s; %d missing transactions; hammer: %d acked, %d refused)",
		sum.WritesOpenMS, run.wall.Round(time.Millisecond), sum.Result.Counts.Missing, len(h.l.list()), h.failures)

	checkCompensation(t, sum, clients*rowsLost)
	gtids, err := binlogGTIDs(ctx, nm.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	checkLedgerOnNewMaster(t, nm.DB(t), acked.list(), gtids)
	checkHammerAfterCompensation(t, h.l.list(), acked.list()[clients*rowsReplicated:], gtids, sum, nm.ServerID)
	r.checkRerun(rec, nm)
	r.checkOldMasterRejoins(nm, len(acked.list())+len(h.l.list()))
}

// preFailover runs PreFailoverProcesses as Orchestrator does before it
// promotes: the old master is dead, so nothing is fenced, and the hook
// must exit 0 (a failure would abort the recovery).
func (r *rig) preFailover(rec Recovery) hookRun {
	args, env, err := r.fx.Pre(rec)
	if err != nil {
		r.t.Fatal(err)
	}
	run := r.runHook(args, env)
	if run.code != 0 || !strings.Contains(run.stdout, "not fenced") {
		r.t.Fatalf("pre-failover hook exit %d\nstdout %s\nstderr %s", run.code, run.stdout, run.stderr)
	}
	return run
}

// promote fails over the way Orchestrator does by default
// (ApplyMySQLPromotionAfterMasterFailover=true): the successor is
// detached and writable before the post hooks run.
func (r *rig) promote(rec *Recovery) *sandbox.Instance {
	ctx := r.t.Context()
	nm, err := r.topo.Promote(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	var file string
	var pos int64
	var skip1, skip2 sql.NullString
	if err := nm.DB(r.t).QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &skip1, &skip2); err != nil {
		r.t.Fatal(err)
	}
	rec.Successor, rec.SuccessorCoordinates = nm.Addr(), fmt.Sprintf("%s:%d", file, pos)
	if ro, err := nm.Variable(ctx, "read_only"); err != nil || (ro != "OFF" && ro != "0") {
		r.t.Fatalf("promoted master read_only=%s (%v), want OFF as Orchestrator leaves it", ro, err)
	}
	return nm
}

// postFailover runs PostFailoverProcesses (twice at once when racing)
// and requires success; it returns the run that did the work.
func (r *rig) postFailover(rec Recovery, racing bool) hookRun {
	args, env, err := r.fx.Post(rec)
	if err != nil {
		r.t.Fatal(err)
	}
	runs := make([]hookRun, 1, 2)
	if racing {
		runs = runs[:2]
		done := make(chan struct{})
		go func() { defer close(done); runs[1] = r.runHook(args, env) }()
		runs[0] = r.runHook(args, env)
		<-done
	} else {
		runs[0] = r.runHook(args, env)
	}
	var worker []hookRun
	for _, run := range runs {
		r.t.Logf("recoup hook stdout:\n%s\nstderr:\n%s", run.stdout, run.stderr)
		if run.code != 0 {
			r.t.Fatalf("post-failover hook exit %d\nstdout %s\nstderr %s", run.code, run.stdout, run.stderr)
		}
		if strings.Contains(run.stdout, ": DONE") {
			worker = append(worker, run)
		} else if !strings.Contains(run.stdout, ": ALREADY-DONE") {
			r.t.Fatalf("unexpected outcome:\n%s", run.stdout)
		}
	}
	if len(worker) != 1 {
		r.t.Fatalf("%d of %d hook runs did the work, want exactly one", len(worker), len(runs))
	}
	return worker[0]
}

// waitAcks waits until the hammer has n acknowledged writes after t0.
func waitAcks(h *hammer, t0 time.Time, n int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c := 0
		for _, a := range h.l.list() {
			if !a.at.Before(t0) {
				c++
			}
		}
		if c >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func checkCompensation(t *testing.T, sum *hook.Summary, lost int) {
	t.Helper()
	if sum.Result == nil {
		t.Fatalf("no compensation result in %s", jsonOf(sum))
	}
	c := sum.Result.Counts
	if c.Missing != lost || c.Applied != lost || c.NewGTIDs != 0 || c.Conflicts != 0 || c.Failed != 0 {
		t.Errorf("compensation counts %+v; want %d missing, all applied with original GTIDs", c, lost)
	}
	if !sum.Fence.WasWritable {
		t.Error("the summary says the successor was not writable on entry; the test promoted it writable")
	}
	if len(sum.Reports) == 0 {
		t.Error("no report written")
	}
	for _, p := range sum.Reports {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("report %s: %v", p, err)
		}
	}
}

// checkLedgerOnNewMaster: every acknowledged write is on the new master,
// committed under its original GTID.
func checkLedgerOnNewMaster(t *testing.T, db *sql.DB, acks []ack, gtids []string) {
	t.Helper()
	in := map[string]bool{}
	for _, g := range gtids {
		in[g] = true
	}
	missing := 0
	for _, a := range acks {
		var note string
		err := db.QueryRowContext(t.Context(), "SELECT note FROM app.ledger WHERE client = ? AND n = ?", a.client, a.n).Scan(&note)
		if err != nil || note != fmt.Sprintf("c%d-n%d", a.client, a.n) {
			t.Errorf("acknowledged row client %d n %d (GTID %s): %q %v", a.client, a.n, a.gtid, note, err)
			missing++
		}
		if !in[a.gtid] {
			t.Errorf("acknowledged GTID %s is not in the new master's binary log", a.gtid)
		}
		if missing > 5 {
			t.Fatal("too many missing rows")
		}
	}
}

// checkHammerAfterCompensation: every hammer write acknowledged through
// the proxy came after the last compensated transaction in the new
// master's binary log, after compensation ended, and from the new master.
func checkHammerAfterCompensation(t *testing.T, hammer, lost []ack, gtids []string, sum *hook.Summary, newID uint32) {
	t.Helper()
	if len(hammer) == 0 {
		t.Fatal("no hammer write got through HAProxy after the hook")
	}
	lastLost := -1
	for _, a := range lost {
		lastLost = max(lastLost, slices.Index(gtids, a.gtid))
	}
	for _, a := range hammer {
		i := slices.Index(gtids, a.gtid)
		if i <= lastLost {
			t.Errorf("hammer write %s is at binlog index %d, before the last compensated transaction (%d)", a.gtid, i, lastLost)
		}
		if a.at.Before(sum.CompensatedAt) {
			t.Errorf("hammer write %s acknowledged at %s, before compensation ended at %s", a.gtid, a.at, sum.CompensatedAt)
		}
		if !strings.HasPrefix(a.gtid, fmt.Sprintf("0-%d-", newID)) {
			t.Errorf("hammer write %s did not come from the new master (server_id %d)", a.gtid, newID)
		}
	}
}

// checkRerun runs the same recovery's hook again: it must succeed and
// change nothing on the new master or in HAProxy.
func (r *rig) checkRerun(rec Recovery, nm *sandbox.Instance) {
	ctx := r.t.Context()
	before, err := nm.GTIDBinlogPos(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	proxyBefore := r.proxyState()
	args, env, err := r.fx.Post(rec)
	if err != nil {
		r.t.Fatal(err)
	}
	run := r.runHook(args, env)
	if run.code != 0 || !strings.Contains(run.stdout, "ALREADY-DONE") {
		r.t.Fatalf("rerun exit %d\nstdout %s\nstderr %s", run.code, run.stdout, run.stderr)
	}
	after, err := nm.GTIDBinlogPos(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	if !after.Equal(before) {
		r.t.Errorf("rerun changed the new master: %s -> %s", before, after)
	}
	if got := r.proxyState(); got != proxyBefore {
		r.t.Errorf("rerun changed HAProxy: %s -> %s", proxyBefore, got)
	}
}

func (r *rig) proxyState() string {
	h, err := route.NewHAProxy(route.HAProxyConfig{Socket: r.hp.SocketPath, WriterBackend: haproxytest.WriterBackend,
		ReaderBackend: haproxytest.ReaderBackend}, quietLogger())
	if err != nil {
		r.t.Fatal(err)
	}
	st, err := h.State(r.t.Context())
	if err != nil {
		r.t.Fatal(err)
	}
	return st.String()
}

// checkOldMasterRejoins restarts the killed master and points it at the
// new one: it must replicate without error and catch up.
func (r *rig) checkOldMasterRejoins(nm *sandbox.Instance, rows int) {
	ctx, cancel := context.WithTimeout(r.t.Context(), time.Minute)
	defer cancel()
	if err := r.old.Start(ctx); err != nil {
		r.t.Fatal(err)
	}
	if err := r.old.ReplicateFrom(ctx, nm); err != nil {
		r.t.Fatalf("old master cannot rejoin as a replica: %v", err)
	}
	r.exec(nm, "INSERT INTO app.ledger (client, n, at) VALUES (1000, 0, NOW(6))")
	if err := sandbox.WaitCaughtUp(ctx, r.old, nm); err != nil {
		r.t.Fatalf("old master does not follow the new one: %v", err)
	}
	var n int
	if err := r.old.DB(r.t).QueryRowContext(ctx, "SELECT COUNT(*) FROM app.ledger").Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	if n != rows+1 {
		r.t.Errorf("old master has %d ledger rows after rejoining, want %d", n, rows+1)
	}
}
