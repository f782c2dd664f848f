package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// missingTxns is the benchmark's number of transactions the new master
// lacks.
const missingTxns = 1000

// BenchmarkHookWritesOpen measures a whole failover hook, from its start
// to writes open through HAProxy, when the new master lacks 1,000
// transactions (one row each). Setup (topology, capture, kill -9,
// promotion) is outside the timer; the timed part is the `recoup hook`
// process. Metrics: writes-open-ms (hook start to writes open, from the
// hook's own summary) and hook-wall-ms (the process, start to exit). Run
// with -benchtime=1x: each iteration builds a topology.
func BenchmarkHookWritesOpen(b *testing.B) {
	bin := buildRecoup(b)
	var open, wall, comp float64
	n := 0
	for b.Loop() {
		b.StopTimer()
		r := newRig(b, false, bin)
		rec := r.lossyFailover(missingTxns)
		args, env, err := r.fx.Post(rec)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		run := r.runHook(args, env)
		b.StopTimer()
		if run.code != 0 {
			b.Fatalf("hook exit %d\n%s\n%s", run.code, run.stdout, run.stderr)
		}
		sum := r.runRecord(rec.UID)
		if sum.Result == nil || sum.Result.Counts.Applied != missingTxns {
			b.Fatalf("compensation %s", jsonOf(sum.Result))
		}
		open += sum.WritesOpenMS
		wall += float64(run.wall.Microseconds()) / 1000
		for _, st := range sum.Steps {
			if st.Name == "compensate" {
				comp += st.TookMS
			}
		}
		n++
		b.StartTimer()
	}
	b.ReportMetric(open/float64(n), "writes-open-ms")
	b.ReportMetric(wall/float64(n), "hook-wall-ms")
	b.ReportMetric(comp/float64(n), "compensate-ms")
	fmt.Printf("recoup hook, %d missing transactions: writes open %.0f ms after hook start (process %.0f ms, compensation %.0f ms)\n",
		missingTxns, open/float64(n), wall/float64(n), comp/float64(n))
}

// lossyFailover captures the old master, stops replication, commits
// count transactions on the old master only, kills it and promotes a
// replica writable. It returns the recovery for the post hook.
func (r *rig) lossyFailover(count int) Recovery {
	ctx := r.t.Context()
	stop := r.startStreamer()
	r.t.Cleanup(stop)
	for _, rep := range r.topo.Replicas {
		if err := rep.StopReplication(ctx); err != nil {
			r.t.Fatal(err)
		}
	}
	conn, err := r.old.DB(r.t).Conn(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	for i := range count {
		if _, err := conn.ExecContext(ctx, "INSERT INTO app.ledger (client, n, at, note) VALUES (7, ?, NOW(6), ?)",
			i, strings.Repeat("x", 16)); err != nil {
			r.t.Fatal(err)
		}
	}
	conn.Close()
	pos, err := r.old.GTIDBinlogPos(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	r.waitCaptured(pos)
	if err := r.old.Kill(); err != nil {
		r.t.Fatal(err)
	}
	rec := Recovery{Failed: r.old.Addr(), Alias: cluster, UID: fmt.Sprintf("%d:bench", time.Now().UnixNano()),
		Replicas: []string{r.topo.Replicas[0].Addr(), r.topo.Replicas[1].Addr()}}
	r.promote(&rec)
	return rec
}
