package streamer

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// fullDisk is a store whose Append fails as a full disk does while full
// is set.
type fullDisk struct {
	capture.Store
	full    atomic.Bool
	refused atomic.Int64
}

func (f *fullDisk) Append(ctx context.Context, recs ...capture.Record) error {
	if f.full.Load() {
		f.refused.Add(1)
		return &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
	}
	return f.Store.Append(ctx, recs...)
}

// TestDiskFull: an Append failing with ENOSPC stops Run with an error that
// says so, names the durable position and what to do; nothing is
// published past it, and a restart once space is freed resumes from it
// with no gap.
func TestDiskFull(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	execAll(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	local := openStore(t, t.TempDir())
	defer local.Close()
	store := &fullDisk{Store: local}
	r := startStreamer(t, capConfig(inst), store)
	initial := waitCaptured(t, r, inst)
	execAll(t, db, "INSERT INTO app.t (v) VALUES (1)")
	durable := waitCaptured(t, r, inst)

	store.full.Store(true)
	execAll(t, db, "INSERT INTO app.t (v) VALUES (2)", "INSERT INTO app.t (v) VALUES (3)")
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop on a full disk")
	}
	switch err := r.err; {
	case err == nil:
		t.Fatal("Run returned nil on a full disk")
	case !errors.Is(err, syscall.ENOSPC):
		t.Fatalf("Run's error does not wrap ENOSPC: %v", err)
	case !strings.Contains(err.Error(), "disk is full") || !strings.Contains(err.Error(), "store.local.dir") ||
		!strings.Contains(err.Error(), durable.String()):
		t.Fatalf("Run's error does not say the disk is full, where capture stopped (%s) and what to do: %v", durable, err)
	}
	t.Logf("Run: %v", r.err)
	if st := r.s.Status(); !st.Position.Equal(durable) {
		t.Fatalf("status position %s after the full disk, want the durable %s", st.Position, durable)
	}
	if n := store.refused.Load(); n > 2 { // the batch, and the disconnection record
		t.Fatalf("%d appends tried on a full disk: it was retried", n)
	}

	store.full.Store(false)
	r2 := startStreamer(t, capConfig(inst), store)
	waitCaptured(t, r2, inst)
	if err := r2.stop(t); err != nil {
		t.Fatal(err)
	}
	checkAgainstBinlog(t, txnRecords(readLog(t, local)), afterInitial(binlogGTIDs(t, db), initial), initial)
}
