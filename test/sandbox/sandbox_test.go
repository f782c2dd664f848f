package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/test/sandbox"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustExec(t *testing.T, in *sandbox.Instance, q string, args ...any) {
	t.Helper()
	if _, err := in.DB(t).ExecContext(ctxFor(t), q, args...); err != nil {
		t.Fatalf("%s on %s: %v", q, in.Name, err)
	}
}

// noteOn reads the note of row id on in; "" with sql.ErrNoRows if absent.
func noteOn(t *testing.T, in *sandbox.Instance, id int) (string, error) {
	t.Helper()
	var note string
	err := in.DB(t).QueryRowContext(ctxFor(t), "SELECT note FROM rig.t WHERE id = ?", id).Scan(&note)
	return note, err
}

func requireRow(t *testing.T, in *sandbox.Instance, id int, want string) {
	t.Helper()
	got, err := noteOn(t, in, id)
	if err != nil {
		t.Fatalf("row %d on %s: %v", id, in.Name, err)
	}
	if got != want {
		t.Fatalf("row %d on %s: note %q, want %q", id, in.Name, got, want)
	}
}

// requireSameBinlogPos checks that every instance's gtid_binlog_pos equals
// primary's.
func requireSameBinlogPos(t *testing.T, primary *sandbox.Instance, others ...*sandbox.Instance) {
	t.Helper()
	ctx := ctxFor(t)
	want, err := primary.GTIDBinlogPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want.IsEmpty() {
		t.Fatalf("%s: empty gtid_binlog_pos after writes", primary.Name)
	}
	for _, o := range others {
		got, err := o.GTIDBinlogPos(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("gtid_binlog_pos of %s = %s, primary %s has %s", o.Name, got, primary.Name, want)
		}
	}
}

// TestTopology proves replication, stop/start and Orchestrator-style
// promotion on one shared 3-node topology; subtests run in order and each
// builds on the previous one's state.
func TestTopology(t *testing.T) {
	start := time.Now()
	topo := sandbox.StartTopology(t, sandbox.Options{Replicas: 2})
	t.Logf("3-node topology started in %v", time.Since(start))
	steps := []struct {
		name string
		f    func(*testing.T, *sandbox.Topology)
	}{
		{"replicates with GTIDs", testReplicates},
		{"replica restarts and catches up", testReplicaRestart},
		{"promote after kill -9", testPromote},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.f(t, topo) }) {
			return // later steps depend on this one
		}
	}
}

func testReplicates(t *testing.T, topo *sandbox.Topology) {
	p, r1, r2 := topo.Primary, topo.Replicas[0], topo.Replicas[1]
	mustExec(t, p, "CREATE DATABASE rig")
	mustExec(t, p, "CREATE TABLE rig.t (id INT PRIMARY KEY, note VARCHAR(64))")
	mustExec(t, p, "INSERT INTO rig.t VALUES (?, ?)", 1, "first")
	if err := topo.WaitCaughtUp(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	requireSameBinlogPos(t, p, r1, r2)
	requireRow(t, r1, 1, "first")
	requireRow(t, r2, 1, "first")
	gtid, err := p.GTIDBinlogPos(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if gtid.Count() != 3 {
		t.Fatalf("primary gtid_binlog_pos %s: want 3 transactions (2 DDL, 1 insert)", gtid)
	}
}

func testReplicaRestart(t *testing.T, topo *sandbox.Topology) {
	p, r2 := topo.Primary, topo.Replicas[1]
	if err := r2.Stop(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if r2.Running() {
		t.Fatal("r2 still running after Stop")
	}
	mustExec(t, p, "INSERT INTO rig.t VALUES (?, ?)", 2, "while r2 down")
	if err := r2.Start(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.WaitCaughtUp(ctxFor(t), r2, p); err != nil {
		t.Fatal(err)
	}
	requireRow(t, r2, 2, "while r2 down")
}

// testPromote makes r2 lag, so Promote must choose r1 and r2 must fetch
// the transaction it lacks from r1 by slave_pos.
func testPromote(t *testing.T, topo *sandbox.Topology) {
	p, r1, r2 := topo.Primary, topo.Replicas[0], topo.Replicas[1]
	if err := r2.StopReplication(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	mustExec(t, p, "INSERT INTO rig.t VALUES (?, ?)", 3, "only r1 has it")
	if err := sandbox.WaitCaughtUp(ctxFor(t), r1, p); err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("primary still running after Kill")
	}
	next, err := topo.Promote(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if next != r1 || topo.Primary != r1 || len(topo.Replicas) != 1 || topo.Replicas[0] != r2 {
		t.Fatalf("promoted %s; topology primary %s, %d replicas: want db1 primary, db2 its replica",
			next.Name, topo.Primary.Name, len(topo.Replicas))
	}
	if ro, err := r1.Variable(ctxFor(t), "read_only"); err != nil || ro != "0" {
		t.Fatalf("new primary read_only = %q (%v), want 0", ro, err)
	}
	mustExec(t, r1, "INSERT INTO rig.t VALUES (?, ?)", 4, "after failover")
	if err := sandbox.WaitCaughtUp(ctxFor(t), r2, r1); err != nil {
		t.Fatal(err)
	}
	requireRow(t, r2, 3, "only r1 has it")
	requireRow(t, r2, 4, "after failover")
	requireSameBinlogPos(t, r1, r2)
	st, err := r2.ReplicaStatus(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.MasterPort != r1.Port || st.UsingGTID != "Slave_Pos" || !st.Running() {
		t.Fatalf("r2 replica status %+v: want running from port %d with Slave_Pos", st, r1.Port)
	}
}

// TestSettings proves that overrides and Drop reach the server.
func TestSettings(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		want     map[string]string // variable -> value
	}{
		{
			name: "statement format, minimal image and metadata",
			settings: map[string]string{
				"binlog_format": "STATEMENT", "binlog-row-image": "MINIMAL", "binlog_row_metadata": "MINIMAL",
			},
			want: map[string]string{
				"binlog_format": "STATEMENT", "binlog_row_image": "MINIMAL", "binlog_row_metadata": "MINIMAL",
				"log_bin": "1",
			},
		},
		{
			name:     "defaults with log_bin dropped",
			settings: map[string]string{"log_bin": sandbox.Drop, "binlog_format": "MIXED"},
			want: map[string]string{
				"log_bin": "0", "binlog_format": "MIXED", "binlog_row_image": "FULL",
				"binlog_row_metadata": "FULL", "gtid_strict_mode": "1", "performance_schema": "0",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := sandbox.StartInstance(t, tc.settings)
			for name, want := range tc.want {
				got, err := in.Variable(ctxFor(t), name)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("@@%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// TestDetachedStateAndDown proves the sandboxctl path: a detached server
// described by WriteState is reachable through Attach and removed by Down,
// and its password is on no command line.
func TestDetachedStateAndDown(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxFor(t)
	topo, err := sandbox.Launch(ctx, sandbox.Options{Dir: dir, Detach: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = topo.Close() }) // kills the server if Down never ran
	if err := topo.WriteState(dir); err != nil {
		t.Fatal(err)
	}
	pid := topo.Primary.PID()
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cmdline, []byte(topo.Password)) {
		t.Fatal("password on the mariadbd command line")
	}
	if st, err := os.Stat(filepath.Join(dir, sandbox.PasswordFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v, mode %v", err, st.Mode())
	}

	att, err := sandbox.Attach(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := att.Primary.DB(t).QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query through attached state: %d, %v", one, err)
	}
	if att.Primary.PID() != pid {
		t.Fatalf("attached pid %d, launched %d", att.Primary.PID(), pid)
	}
	if err := att.Close(); err != nil {
		t.Fatal(err)
	}
	if !att.Primary.Running() {
		t.Fatal("closing an attached topology stopped its server")
	}
	if err := sandbox.Down(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if topo.Primary.Running() {
		t.Fatalf("pid %d still running after Down", pid)
	}
	if _, err := os.Stat(topo.Primary.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("datadir left after Down: %v", err)
	}
}

func BenchmarkStartTopology3(b *testing.B) {
	for b.Loop() {
		topo, err := sandbox.Launch(b.Context(), sandbox.Options{Replicas: 2})
		if err != nil {
			b.Fatal(err)
		}
		if err := topo.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
