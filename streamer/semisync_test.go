package streamer

import (
	"context"
	"database/sql"
	"strconv"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// gatedStore is a real local store whose Append waits while the test
// holds hold: the test decides when a batch can become durable.
type gatedStore struct {
	capture.Store
	hold sync.Mutex
}

func (g *gatedStore) Append(ctx context.Context, recs ...capture.Record) error {
	g.hold.Lock()
	g.hold.Unlock() //nolint:staticcheck // a gate, not a critical section
	return g.Store.Append(ctx, recs...)
}

// TestSemiSyncAckAfterDurable runs a MariaDB master that waits for a
// semi-synchronous replica and a streamer with SemiSync: a client's
// commit returns only once the streamer's store holds the transaction;
// while the store cannot write, the commit waits; a streamer that stops
// before its store wrote never acknowledges (the master gives up).
func TestSemiSyncAckAfterDurable(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	// The tables first: with no semi-synchronous replica yet, the master
	// would wait its whole timeout for each statement.
	execAll(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
		"SET GLOBAL rpl_semi_sync_master_timeout = 30000", "SET GLOBAL rpl_semi_sync_master_wait_point = 'AFTER_SYNC'",
		"SET GLOBAL rpl_semi_sync_master_enabled = ON")
	store := &gatedStore{Store: openStore(t, t.TempDir())}
	cfg := capConfig(inst)
	cfg.SemiSync = true
	r := startStreamer(t, cfg, store)
	waitCaptured(t, r, inst)
	waitStatus(t, db, "Rpl_semi_sync_master_clients", "1")
	waitStatus(t, db, "Rpl_semi_sync_master_status", "ON")
	noTx := statusValue(t, db, "Rpl_semi_sync_master_no_tx")

	for i := 1; i <= 3; i++ {
		store.hold.Lock()
		c := commitAsync(t, db, i)
		select {
		case res := <-c:
			store.hold.Unlock()
			t.Fatalf("commit %d returned (%v) while the capture log could not write it: the acknowledgement did not wait", i, res.err)
		case <-time.After(400 * time.Millisecond):
		}
		store.hold.Unlock()
		res := <-c
		if res.err != nil {
			t.Fatalf("commit %d: %v", i, res.err)
		}
		last, ok, err := store.Last(context.Background())
		if err != nil || !ok || !last.After.Contains(res.gtid) {
			t.Fatalf("commit %d (%s) returned before its transaction was durable: the log's last record has %s (%v, %v)",
				i, res.gtid, last.After, ok, err)
		}
	}
	var m dto.Metric
	if err := r.s.m.ackHold.Write(&m); err != nil || m.GetHistogram().GetSampleCount() < 3 {
		t.Errorf("recoup_capture_semisync_ack_hold_seconds counted %d acknowledgements (%v), want at least the 3 held ones",
			m.GetHistogram().GetSampleCount(), err)
	}
	if got := statusValue(t, db, "Rpl_semi_sync_master_no_tx"); got != noTx {
		t.Errorf("Rpl_semi_sync_master_no_tx = %s, was %s: the master gave up waiting for the streamer", got, noTx)
	}

	// A streamer stopping while its store cannot write acknowledges nothing.
	execAll(t, db, "SET GLOBAL rpl_semi_sync_master_timeout = 1000")
	store.hold.Lock()
	c := commitAsync(t, db, 4)
	time.Sleep(300 * time.Millisecond)
	r.cancel()
	res := <-c
	store.hold.Unlock()
	if res.err != nil {
		t.Fatalf("commit 4: %v", res.err)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := statusValue(t, db, "Rpl_semi_sync_master_no_tx"), mustAtoi(t, noTx)+1; mustAtoi(t, got) != want {
		t.Errorf("after the streamer stopped before writing, Rpl_semi_sync_master_no_tx = %s, want %d (commit took %v)", got, want, res.took)
	}
	if res.took < 900*time.Millisecond {
		t.Errorf("commit 4 returned after %v, before the master's 1s timeout: it was acknowledged", res.took)
	}
}

type commitResult struct {
	gtid repl.GTID
	took time.Duration
	err  error
}

// commitAsync inserts row id in its own connection and reports the
// transaction's GTID when the commit returns.
func commitAsync(t *testing.T, db *sql.DB, id int) <-chan commitResult {
	t.Helper()
	out := make(chan commitResult, 1)
	go func() {
		ctx := context.Background()
		began := time.Now()
		conn, err := db.Conn(ctx)
		if err != nil {
			out <- commitResult{err: err}
			return
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "INSERT INTO app.t VALUES (?, ?)", id, "row "+strconv.Itoa(id)); err != nil {
			out <- commitResult{err: err}
			return
		}
		took := time.Since(began)
		var text string
		if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&text); err != nil {
			out <- commitResult{err: err}
			return
		}
		g, err := repl.ParseGTID(repl.MariaDB, text)
		out <- commitResult{gtid: g, took: took, err: err}
	}()
	return out
}

func statusValue(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?", name).Scan(&v); err != nil {
		t.Fatalf("SHOW GLOBAL STATUS LIKE %s: %v", name, err)
	}
	return v
}

// waitStatus waits until a status variable has the value want.
func waitStatus(t *testing.T, db *sql.DB, name, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := statusValue(t, db, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %s after 10s, want %s", name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
