package applier

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// BenchmarkCompensate compares Compensate (conflict checks on) with the
// MHA method (mariadb-binlog of the old master's binlog from the
// divergence point piped into mariadb) on two identical new masters.
// It prints both times and their ratio; run it with -benchtime=1x.
func BenchmarkCompensate(b *testing.B) {
	b.Run("10000txns_x1row", func(b *testing.B) { benchCompensate(b, 10000, 1) })
	b.Run("1000txns_x100rows", func(b *testing.B) { benchCompensate(b, 1000, 100) })
}

func benchCompensate(b *testing.B, txns, rows int) {
	for _, bin := range []string{"mariadb-binlog", "mariadb"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Fatalf("%s not found: apt-get install mariadb-client", bin)
		}
	}
	var recoup, mha time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env := newBenchEnv(b, txns, rows)
		b.StartTimer()
		t0 := time.Now()
		res, err := Compensate(b.Context(), env.a.DB(b), env.store, Options{Flavor: repl.MariaDB, Cluster: "bench"})
		took := time.Since(t0)
		b.StopTimer()
		if err != nil {
			b.Fatalf("Compensate: %v", err)
		}
		if res.Counts.Applied != txns {
			b.Fatalf("Compensate applied %d transactions, want %d (counts %+v)", res.Counts.Applied, txns, res.Counts)
		}
		recoup += took
		b.Logf("recoup phases: %+v", res.Timings)
		mha += env.mha(b)
		env.same(b)
		env.close(b)
	}
	n := float64(b.N)
	b.ReportMetric(recoup.Seconds()/n, "recoup-s")
	b.ReportMetric(mha.Seconds()/n, "mha-s")
	b.ReportMetric(recoup.Seconds()/mha.Seconds(), "recoup/mha")
	b.Logf("%d txns x %d rows: recoup %.2fs (%.0f txn/s), MHA mariadb-binlog|mariadb %.2fs, ratio %.2f",
		txns, rows, recoup.Seconds()/n, float64(txns)*n/recoup.Seconds(), mha.Seconds()/n, recoup.Seconds()/mha.Seconds())
}

// benchEnv is a crashed primary and two identical, fenced new masters.
type benchEnv struct {
	topo  *sandbox.Topology
	old   *sandbox.Instance
	a, b  *sandbox.Instance
	store capture.Store
	first capture.Record // the first lost transaction
}

func newBenchEnv(b *testing.B, txns, rows int) *benchEnv {
	ctx := b.Context()
	topo, err := sandbox.Launch(ctx, sandbox.Options{Replicas: 2,
		InstanceSettings: map[int]map[string]string{0: {"innodb_flush_log_at_trx_commit": "2"}}})
	if err != nil {
		b.Fatalf("starting MariaDB sandbox: %v", err)
	}
	env := &benchEnv{topo: topo, old: topo.Primary, a: topo.Replicas[0], b: topo.Replicas[1]}
	// The streamer captures during the setup only (the timer is stopped)
	// and is stopped before Compensate runs.
	capt := startCapture(b, env.old, "bench")
	mustExec(b, env.old.DB(b), "CREATE DATABASE bench", "CREATE TABLE bench.t (id INT PRIMARY KEY, v INT, pad VARCHAR(64))")
	if err := topo.WaitCaughtUp(ctx); err != nil {
		b.Fatal(err)
	}
	for _, r := range []*sandbox.Instance{env.a, env.b} {
		mustExec(b, r.DB(b), "STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = ON")
	}
	before, err := env.old.GTIDBinlogPos(ctx)
	if err != nil {
		b.Fatal(err)
	}
	writeLost(b, env.old, txns, rows)
	lost := txnsAfter(capt.wait(b), before)
	if len(lost) != txns {
		b.Fatalf("the capture log has %d transactions after %s, want %d", len(lost), before, txns)
	}
	env.first, env.store = lost[0], capt.store
	if err := env.old.Kill(); err != nil {
		b.Fatal(err)
	}
	return env
}

// writeLost commits txns transactions of rows inserted rows each.
func writeLost(b *testing.B, in *sandbox.Instance, txns, rows int) {
	conn, err := in.DB(b).Conn(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	id := 0
	for range txns {
		var q strings.Builder
		q.WriteString("INSERT INTO bench.t VALUES ")
		for r := range rows {
			if r > 0 {
				q.WriteString(",")
			}
			id++
			fmt.Fprintf(&q, "(%d, %d, REPEAT('x', %d))", id, id*7, id%64)
		}
		if _, err := conn.ExecContext(b.Context(), q.String()); err != nil {
			b.Fatal(err)
		}
	}
}

// mha replays the old master's binlog from the first lost transaction
// into env.b the way MHA does, and returns how long it took. Credentials
// go through a temporary option file, never the command line.
func (env *benchEnv) mha(b *testing.B) time.Duration {
	dir := b.TempDir()
	cnf := filepath.Join(dir, "client.cnf")
	body := fmt.Sprintf("[client]\nuser=%s\npassword=%s\nhost=%s\nport=%d\n", env.b.User, env.b.Password, env.b.Host, env.b.Port)
	if err := os.WriteFile(cnf, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	defer cancel()
	dump := exec.CommandContext(ctx, "mariadb-binlog", fmt.Sprintf("--start-position=%d", env.first.Start.Pos),
		filepath.Join(env.old.DataDir, env.first.Start.File))
	load := exec.CommandContext(ctx, "mariadb", "--defaults-extra-file="+cnf)
	pipe, err := dump.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	load.Stdin = pipe
	var dumpErr, loadErr strings.Builder
	dump.Stderr, load.Stderr = &dumpErr, &loadErr
	t0 := time.Now()
	if err := load.Start(); err != nil {
		b.Fatal(err)
	}
	if err := dump.Run(); err != nil {
		b.Fatalf("mariadb-binlog: %v: %s", err, dumpErr.String())
	}
	if err := load.Wait(); err != nil {
		b.Fatalf("mariadb: %v: %s", err, loadErr.String())
	}
	return time.Since(t0)
}

// same checks that both new masters ended identical: data and GTIDs.
func (env *benchEnv) same(b *testing.B) {
	ctx := b.Context()
	var sums [2]string
	var pos [2]repl.GTIDSet
	for i, in := range []*sandbox.Instance{env.a, env.b} {
		var name string
		if err := in.DB(b).QueryRowContext(ctx, "CHECKSUM TABLE bench.t").Scan(&name, &sums[i]); err != nil {
			b.Fatal(err)
		}
		var err error
		if pos[i], err = in.GTIDBinlogPos(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if sums[0] != sums[1] || !pos[0].Equal(pos[1]) {
		b.Fatalf("recoup and MHA results differ: checksums %v, gtid_binlog_pos %s vs %s", sums, pos[0], pos[1])
	}
}

func (env *benchEnv) close(b *testing.B) {
	if err := env.topo.Close(); err != nil {
		b.Errorf("stopping MariaDB sandbox: %v", err)
	}
}
