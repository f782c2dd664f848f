package streamer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestResumeExactlyOnce stops the streamer (and sometimes closes and
// reopens the store, as a process restart would) at random points while a
// writer commits transactions, then checks the log holds every
// transaction of the master's binlog exactly once, in order.
func TestResumeExactlyOnce(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	dir := t.TempDir()
	store := openStore(t, dir)
	cfg := capConfig(inst)

	// Capture begins on a server with no GTID yet: go-mysql then meets a
	// new (domain, server) pair with the first transaction.
	r := startStreamer(t, cfg, store)
	initial := waitCaptured(t, r, inst)
	if !initial.IsEmpty() {
		t.Fatalf("fresh server at %s, want no GTID", initial)
	}
	execAll(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, b BLOB)")
	ctx, stopWriter := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		writeLoad(ctx, t, inst, 1<<30)
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 12; i++ {
		time.Sleep(time.Duration(10+rng.IntN(120)) * time.Millisecond)
		if err := r.stop(t); err != nil {
			t.Fatalf("restart %d: Run returned %v after cancel", i, err)
		}
		if i%3 == 2 {
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			store = openStore(t, dir)
		}
		r = startStreamer(t, cfg, store)
	}
	stopWriter()
	wg.Wait()
	waitCaptured(t, r, inst)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	txns := txnRecords(readLog(t, store))
	want := afterInitial(binlogGTIDs(t, db), initial)
	if len(want) < 50 {
		t.Fatalf("the writer committed only %d transactions: the test proves little", len(want))
	}
	checkAgainstBinlog(t, txns, want, initial)
	t.Logf("%d transactions captured across 12 restarts", len(txns))
}

// writeLoad commits single-row transactions (some multi-row) until ctx is
// done or n are committed.
func writeLoad(ctx context.Context, t testing.TB, inst *sandbox.Instance, n int) {
	db := inst.DB(t)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		var err error
		if i%7 == 0 {
			_, err = db.Exec("INSERT INTO app.t (v, b) VALUES (?, ?), (?, ?)", i, []byte(fmt.Sprint(i)), -i, nil)
		} else {
			_, err = db.Exec("INSERT INTO app.t (v) VALUES (?)", i)
		}
		if err != nil && ctx.Err() == nil {
			t.Errorf("writer: %v", err)
			return
		}
	}
}

var _ capture.Store = (*capture.Local)(nil)
