package capturetest

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
	"github.com/recoup-dev/recoup/streamer"
	kafkatest "github.com/recoup-dev/recoup/test/kafka"
	"github.com/recoup-dev/recoup/test/sandbox"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// cluster is the cluster alias every test captures under.
const cluster = "e2e"

// storeKind is a capture store implementation under test.
type storeKind struct {
	name string
	open func(t *testing.T) capture.Store
}

// bothStores are the local store and a Kafka store on the shared broker,
// each on a fresh directory or topic.
func bothStores() []storeKind {
	return []storeKind{
		{name: "local", open: openLocal},
		{name: "kafka", open: func(t *testing.T) capture.Store {
			b := kafkatest.Broker(t)
			return openKafka(t, b, b.NewTopic(t))
		}},
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("CAPTURETEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func openLocal(t *testing.T) capture.Store {
	t.Helper()
	st, err := capture.OpenLocal(t.TempDir(), capture.LocalOptions{Logger: testLogger()})
	if err != nil {
		t.Fatalf("opening a local store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func openKafka(t *testing.T, b *kafkatest.Server, topic string) capture.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := capture.OpenKafka(ctx, capture.KafkaOptions{Brokers: []string{b.Addr()}, Topic: topic,
		Cluster: cluster, RequestTimeout: 5 * time.Second, Logger: testLogger()})
	if err != nil {
		t.Fatalf("opening Kafka store on topic %s: %v", topic, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// streamerConfig is a streamer config for inst; id makes the replica
// server_id unique among the streamers of one test.
func streamerConfig(inst *sandbox.Instance, id uint32) streamer.Config {
	return streamer.Config{
		Cluster: cluster, Flavor: repl.MariaDB, Master: inst.Addr(), User: inst.User, Password: inst.Password,
		ServerID: 5000 + 10*inst.ServerID + id, HeartbeatPeriod: 200 * time.Millisecond,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 300 * time.Millisecond,
	}
}

// running is a streamer whose Run goroutine can be stopped.
type running struct {
	s       *streamer.Streamer
	cancel  context.CancelFunc
	done    chan struct{} // closed when Run returned, err set
	err     error
	stopped bool
}

func startStreamer(t *testing.T, cfg streamer.Config, store capture.Store) *running {
	t.Helper()
	s, err := streamer.New(cfg, store, testLogger().With("server_id", cfg.ServerID), prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("streamer.New: %v", err)
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

// stop cancels Run and fails the test when Run returned an error. It may
// be called again (the test's cleanup does).
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.stopped {
		return
	}
	r.stopped = true
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("streamer Run did not return within 30s of cancel")
	}
	if r.err != nil {
		t.Errorf("streamer Run: %v", r.err)
	}
}

// waitCaptured waits until the streamer's durable position holds the
// master's gtid_binlog_pos, and returns that position.
func waitCaptured(t *testing.T, r *running, inst *sandbox.Instance, limit time.Duration) repl.GTIDSet {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
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
			t.Fatalf("streamer Run returned before capturing %s: %v", want, r.err)
		case <-ctx.Done():
			t.Fatalf("captured position %s never reached %s within %v (last error %q)", st.Position, want, limit, st.LastError)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// readLog reads the whole log through Dedupe, as every consumer does.
func readLog(t *testing.T, store capture.Store) []capture.Record {
	t.Helper()
	return storetest.ReadLog(t, store, true)
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

// masterGTIDs lists the GTIDs of the master's binlogs in binlog order,
// leaving out those in initial.
func masterGTIDs(t *testing.T, db *sql.DB, initial repl.GTIDSet) []repl.GTID {
	t.Helper()
	var out []repl.GTID
	for _, f := range firstColumn(t, db, "SHOW BINARY LOGS") {
		rows, err := db.QueryContext(t.Context(), "SHOW BINLOG EVENTS IN '"+f+"'")
		if err != nil {
			t.Fatalf("SHOW BINLOG EVENTS IN %s: %v", f, err)
		}
		for rows.Next() {
			var name, typ, info string
			var pos, end, sid any
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
			if !initial.Contains(g) {
				out = append(out, g)
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkExactlyOnce checks that txns are exactly the transactions want,
// in order, and that each record's After is the previous After plus its
// GTID.
func checkExactlyOnce(t *testing.T, name string, txns []capture.Record, want []repl.GTID, initial repl.GTIDSet) {
	t.Helper()
	after := initial
	for i, rec := range txns {
		if i >= len(want) {
			t.Fatalf("%s: %d transactions captured, the master has %d; extra %s", name, len(txns), len(want), rec.GTID)
		}
		if rec.GTID != want[i] {
			t.Fatalf("%s: transaction %d is %s, the master's binlog has %s", name, i, rec.GTID, want[i])
		}
		var err error
		if after, err = after.Add(rec.GTID); err != nil {
			t.Fatal(err)
		}
		if !rec.After.Equal(after) {
			t.Fatalf("%s: transaction %d (%s): After = %s, want %s", name, i, rec.GTID, rec.After, after)
		}
	}
	if len(txns) != len(want) {
		t.Fatalf("%s: %d transactions captured, the master has %d", name, len(txns), len(want))
	}
}

// firstColumn returns the first column of each row, as text.
func firstColumn(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var first sql.NullString
		vals := []any{&first}
		for range cols[1:] {
			vals = append(vals, new(any))
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, first.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func mustExec(t *testing.T, db execer, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%.300s: %v", q, err)
	}
}

// lastGTID is the GTID of the last transaction the connection committed.
func lastGTID(t *testing.T, conn *sql.Conn) repl.GTID {
	t.Helper()
	var text string
	if err := conn.QueryRowContext(t.Context(), "SELECT @@last_gtid").Scan(&text); err != nil {
		t.Fatalf("SELECT @@last_gtid: %v", err)
	}
	g, err := repl.ParseGTID(repl.MariaDB, text)
	if err != nil {
		t.Fatalf("@@last_gtid %q: %v", text, err)
	}
	return g
}

// decodeAll decodes every transaction record, by GTID.
func decodeAll(t *testing.T, name string, txns []capture.Record) map[repl.GTID]repl.Txn {
	t.Helper()
	out := make(map[repl.GTID]repl.Txn, len(txns))
	for _, rec := range txns {
		txn, err := streamer.DecodeTxn(rec)
		if err != nil {
			t.Fatalf("%s: DecodeTxn(%s): %v", name, rec.GTID, err)
		}
		if txn.GTID != rec.GTID || txn.ServerID != rec.ServerID || !txn.CommitTime.Equal(rec.CommitTime) {
			t.Errorf("%s: decoded identity %s/%d/%s, record %s/%d/%s", name, txn.GTID, txn.ServerID,
				txn.CommitTime, rec.GTID, rec.ServerID, rec.CommitTime)
		}
		out[rec.GTID] = txn
	}
	return out
}
