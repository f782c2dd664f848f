package streamer

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestBinlogPurged: binlogs purged past the captured position while the
// streamer was stopped stop it with an error naming the missing range,
// and it writes nothing.
func TestBinlogPurged(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	execAll(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)")
	store := openStore(t, t.TempDir())
	defer store.Close()
	r := startStreamer(t, capConfig(inst), store)
	captured := waitCaptured(t, r, inst)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	before := len(readLog(t, store))
	execAll(t, db, "INSERT INTO app.t VALUES (1)", "INSERT INTO app.t VALUES (2)", "FLUSH BINARY LOGS")
	files := queryStrings(t, db, "SHOW BINARY LOGS")
	// The server keeps a binlog until its binlog checkpoint moves on:
	// repeat the purge until only the newest file is left.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		execAll(t, db, "PURGE BINARY LOGS TO '"+files[len(files)-1]+"'")
		if n := len(queryStrings(t, db, "SHOW BINARY LOGS")); n == 1 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d binlogs left after PURGE", n)
		}
	}

	r = startStreamer(t, capConfig(inst), store)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop on purged binlogs")
	}
	err := r.err
	last := captured.Last()[0]
	missing := "missing from capture: 0-1-[" + itoa(last.Seq+1) + "-" + itoa(last.Seq+2) + "]"
	if !errors.Is(err, ErrBinlogPurged) || !strings.Contains(err.Error(), "captured position "+captured.String()) ||
		!strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "raise binlog retention") {
		t.Fatalf("Run = %v\nwant ErrBinlogPurged naming the captured position %s and %q", err, captured, missing)
	}
	if n := len(readLog(t, store)); n != before {
		t.Errorf("the log grew from %d to %d records on a refused resume", before, n)
	}
	t.Log(err)
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
