package streamer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestReconnect: the streamer survives a master crash and restart, and a
// refused login, retrying with backoff and counting reconnects; a crash
// leaves no gap and no duplicate, and the log records the disconnection.
func TestReconnect(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	execAll(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	store := openStore(t, t.TempDir())
	defer store.Close()
	r := startStreamer(t, capConfig(inst), store)
	initial := waitCaptured(t, r, inst)
	execAll(t, db, "INSERT INTO app.t (v) VALUES (1)")
	waitCaptured(t, r, inst)

	if err := inst.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.s.Status().Connected || testutil.ToFloat64(r.s.m.reconnects) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("streamer did not notice the master's death: %+v", r.s.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := inst.Start(ctx); err != nil {
		t.Fatal(err)
	}
	db = inst.DB(t)
	execAll(t, db, "INSERT INTO app.t (v) VALUES (2)", "INSERT INTO app.t (v) VALUES (3)")
	waitCaptured(t, r, inst)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	recs := readLog(t, store)
	checkAgainstBinlog(t, txnRecords(recs), afterInitial(binlogGTIDs(t, db), initial), initial)
	checkMasterStates(t, recs)

	t.Run("refused login", func(t *testing.T) {
		cfg := capConfig(inst)
		cfg.Password = "wrong"
		bad := startStreamer(t, cfg, openStore(t, t.TempDir()))
		deadline := time.Now().Add(10 * time.Second)
		for testutil.ToFloat64(bad.s.m.reconnects) < 3 {
			if time.Now().After(deadline) {
				t.Fatalf("no retries after a refused login: %+v", bad.s.Status())
			}
			select {
			case <-bad.done:
				t.Fatalf("Run gave up on a refused login: %v", bad.err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		if st := bad.s.Status(); st.Connected || !strings.Contains(st.LastError, "Access denied") || strings.Contains(st.LastError, "wrong") {
			t.Errorf("status after refused logins = %+v", st)
		}
	})
}

// checkMasterStates: the first session records its connection, the one
// that lost the master its disconnection, and the last its connection.
func checkMasterStates(t *testing.T, recs []capture.Record) {
	t.Helper()
	var states []string
	for _, rec := range recs {
		if rec.Kind == capture.KindMasterState {
			states = append(states, map[bool]string{true: "connected", false: "disconnected"}[rec.Connected])
		}
	}
	if len(states) < 3 || states[0] != "connected" || states[1] != "disconnected" || states[len(states)-1] != "connected" {
		t.Errorf("master-state records = %v, want connected, disconnected, ..., connected", states)
	}
}
