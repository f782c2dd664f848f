package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/applier"
	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestLossyFailoverCompensated is the product's story through the CLI:
// the real streamer captures the master; replication to both replicas
// stops; the master commits 4 more transactions and is killed; a replica
// is promoted as Orchestrator does; `recoup plan` shows the 4 missing
// transactions and changes nothing; `recoup compensate` replays them with
// their original GTIDs; a rerun applies nothing; the old master rejoins.
func TestLossyFailoverCompensated(t *testing.T) {
	ctx := t.Context()
	topo := sandbox.StartTopology(t, sandbox.Options{Replicas: 2})
	old := topo.Primary
	mustExec(t, old, "CREATE DATABASE shop",
		"CREATE TABLE shop.orders (id INT PRIMARY KEY, amount DECIMAL(12,2), note VARBINARY(16), at TIMESTAMP(6) NULL)",
		"INSERT INTO shop.orders VALUES (1, 10.00, 'a', '2026-01-01 00:00:00.000001')")
	if err := topo.WaitCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := writeTestConfig(t, dir, topo)
	stopStream := startTestStreamer(t, dir, topo)
	// Capture starts where the master is when the streamer first connects.
	waitCaptured(t, filepath.Join(dir, "store", "shop"), mustPos(t, old))

	for _, r := range topo.Replicas {
		if err := r.StopReplication(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(t, old, "INSERT INTO shop.orders VALUES (2, 20.50, X'00FF', '2026-01-02 03:04:05.123456')",
		"UPDATE shop.orders SET amount = 11.00 WHERE id = 1",
		"INSERT INTO shop.orders VALUES (3, -0.01, NULL, NULL)",
		"DELETE FROM shop.orders WHERE id = 2")
	oldPos := mustPos(t, old)
	waitCaptured(t, filepath.Join(dir, "store", "shop"), oldPos)
	stopStream()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	nm, err := topo.Promote(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, nm, "SET GLOBAL read_only = ON") // the hook's fence

	plan := runJSON(t, "plan", cfgPath, nm.Addr())
	if plan.Counts.Missing != 4 || plan.Counts.Applied != 0 || !plan.DryRun {
		t.Fatalf("plan counts = %+v, dry_run=%v; want 4 missing, nothing applied", plan.Counts, plan.DryRun)
	}
	res := runJSON(t, "compensate", cfgPath, nm.Addr())
	if res.Counts.Applied != 4 || res.Counts.Conflicts != 0 || res.Counts.NewGTIDs != 0 {
		t.Fatalf("compensate counts = %+v; want 4 applied with original GTIDs", res.Counts)
	}
	nmPos, err := nm.GTIDBinlogPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !oldPos.Subset(nmPos) {
		t.Errorf("new master gtid_binlog_pos %s lacks the old master's %s", nmPos, oldPos)
	}
	if again := runJSON(t, "compensate", cfgPath, nm.Addr()); again.Counts.Missing != 0 || again.Counts.Applied != 0 {
		t.Errorf("rerun counts = %+v; want nothing missing", again.Counts)
	}
	want := "1:11.00:61:2026-01-01 00:00:00.000001,3:-0.01:NULL:NULL"
	if got := dump(t, nm); got != want {
		t.Errorf("new master rows = %s, want %s", got, want)
	}
	mustExec(t, nm, "SET GLOBAL read_only = OFF")
	if err := old.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := old.ReplicateFrom(ctx, nm); err != nil {
		t.Fatalf("old master cannot rejoin: %v", err)
	}
	mustExec(t, nm, "INSERT INTO shop.orders VALUES (4, 1, NULL, NULL)")
	if err := sandbox.WaitCaughtUp(ctx, old, nm); err != nil {
		t.Fatalf("old master does not follow the new one: %v", err)
	}
}

func mustPos(t *testing.T, in *sandbox.Instance) repl.GTIDSet {
	t.Helper()
	pos, err := in.GTIDBinlogPos(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func mustExec(t *testing.T, in *sandbox.Instance, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := in.DB(t).ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s on %s: %v", q, in.Name, err)
		}
	}
}

func writeTestConfig(t *testing.T, dir string, topo *sandbox.Topology) string {
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte(topo.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("clusters:\n  - name: shop\n    master: %s\n    user: %s\n    password_file: %s\n    server_id: 4001\n"+
		"store:\n  local:\n    dir: %s\n", topo.Primary.Addr(), topo.User, pw, filepath.Join(dir, "store"))
	p := filepath.Join(dir, "recoup.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startTestStreamer runs the real streamer in-process on the local store
// and returns a function that stops it and releases the store.
func startTestStreamer(t *testing.T, dir string, topo *sandbox.Topology) func() {
	store, err := capture.OpenLocal(filepath.Join(dir, "store", "shop"), capture.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := streamer.New(streamer.Config{Cluster: "shop", Flavor: repl.MariaDB, Master: topo.Primary.Addr(),
		User: topo.User, Password: topo.Password, ServerID: 4001}, store, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("streamer: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitCaptured(t *testing.T, dir string, want repl.GTIDSet) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := capture.OpenLocalReadOnly(dir); err == nil {
			last, ok, err := st.Last(t.Context())
			st.Close()
			if err == nil && ok && want.Subset(last.After) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("capture did not reach %s", want)
}

func runJSON(t *testing.T, cmd, cfgPath, newMaster string) applier.Result {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{cmd, "--config", cfgPath, "--cluster", "shop", "--new-master", newMaster}, &out, &errb); code != 0 {
		t.Fatalf("recoup %s exited %d: %s", cmd, code, errb.String())
	}
	var res applier.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("recoup %s output is not a result: %v\n%s", cmd, err, out.String())
	}
	return res
}

func dump(t *testing.T, in *sandbox.Instance) string {
	rows, err := in.DB(t).QueryContext(t.Context(),
		"SELECT id, amount, IFNULL(HEX(note),'NULL'), IFNULL(CAST(at AS CHAR),'NULL') FROM shop.orders ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, amount, note, at string
		if err := rows.Scan(&id, &amount, &note, &at); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{id, amount, note, at}, ":"))
	}
	return strings.Join(out, ",")
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
