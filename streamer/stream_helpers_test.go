package streamer

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// capConfig is a streamer config for a sandbox instance.
func capConfig(inst *sandbox.Instance) Config {
	return Config{
		Cluster: "test", Flavor: repl.MariaDB, Master: inst.Addr(), User: inst.User, Password: inst.Password,
		ServerID: 4000 + inst.ServerID, HeartbeatPeriod: 200 * time.Millisecond,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("STREAMER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func openStore(t testing.TB, dir string) *capture.Local {
	t.Helper()
	st, err := capture.OpenLocal(dir, capture.LocalOptions{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("opening local store: %v", err)
	}
	return st
}

// running is a streamer whose Run goroutine can be stopped.
type running struct {
	s      *Streamer
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with err set
	err    error
}

func startStreamer(t testing.TB, cfg Config, store capture.Store) *running {
	t.Helper()
	s, err := New(cfg, store, testLogger(t), prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{s: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = s.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and returns its error.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel")
	}
	return nil
}

// waitCaptured waits until the durable position holds the master's
// gtid_binlog_pos.
func waitCaptured(t testing.TB, r *running, inst *sandbox.Instance) repl.GTIDSet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want, err := inst.GTIDBinlogPos(ctx)
	if err != nil {
		t.Fatalf("reading gtid_binlog_pos: %v", err)
	}
	for {
		st := r.s.Status()
		if want.Subset(st.Position) && st.Connected {
			return want
		}
		select {
		case <-r.done:
			t.Fatalf("Run returned before capturing %s: %v", want, r.err)
		case <-ctx.Done():
			t.Fatalf("captured position %s never reached %s (last error %q)", st.Position, want, st.LastError)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func readLog(t testing.TB, store capture.Store) []capture.Record {
	t.Helper()
	return storetest.ReadLog(t, store, false)
}

func txnRecords(recs []capture.Record) []capture.Record {
	var out []capture.Record
	for _, r := range recs {
		if r.Kind == capture.KindTxn {
			out = append(out, r)
		}
	}
	return out
}

// binlogGTIDs lists the master's binlog transactions in order, with the
// binlog position of each GTID event.
type binlogTxn struct {
	gtid repl.GTID
	pos  repl.BinlogPos
}

func binlogGTIDs(t testing.TB, db *sql.DB) []binlogTxn {
	t.Helper()
	files := queryStrings(t, db, "SHOW BINARY LOGS")
	var out []binlogTxn
	for _, f := range files {
		rows, err := db.Query("SHOW BINLOG EVENTS IN '" + f + "'")
		if err != nil {
			t.Fatalf("SHOW BINLOG EVENTS IN %s: %v", f, err)
		}
		for rows.Next() {
			var name, typ, info string
			var pos uint32
			var sid, end any
			if err := rows.Scan(&name, &pos, &typ, &sid, &end, &info); err != nil {
				t.Fatal(err)
			}
			if typ != "Gtid" {
				continue
			}
			fields := strings.Fields(info)
			g, err := repl.ParseGTID(repl.MariaDB, fields[len(fields)-1])
			if err != nil {
				t.Fatalf("GTID event info %q: %v", info, err)
			}
			out = append(out, binlogTxn{g, repl.BinlogPos{File: name, Pos: pos}})
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// queryStrings returns the first column of each row.
func queryStrings(t testing.TB, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		var first sql.NullString
		vals[0] = &first
		for i := 1; i < len(cols); i++ {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, first.String)
	}
	return out
}

func execAll(t testing.TB, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// afterInitial drops the binlog transactions already in the position
// capture began at.
func afterInitial(all []binlogTxn, initial repl.GTIDSet) []binlogTxn {
	var out []binlogTxn
	for _, b := range all {
		if !initial.Contains(b.gtid) {
			out = append(out, b)
		}
	}
	return out
}
