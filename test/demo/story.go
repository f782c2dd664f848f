package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/e2e"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// conflictRow is the row the first lost transaction updates and the new
// master changes too, before the hook runs.
const conflictRow = 1

// newMasterNote is what the new master writes in conflictRow.
const newMasterNote = "changed on the new master"

// result is what the demo reports at the end.
type result struct {
	oldMaster, newMaster string
	lost                 repl.GTIDSet // on the old master, not on the promoted replica
	restored             uint64       // of lost, in the new master's binary log after the hook
	lostRows, rowsBack   int          // rows the lost inserts wrote; of those, on the new master
	newGTIDs             int          // replayed under a new GTID
	sum                  *summary
	hookWall             time.Duration
	afterWrite           string // where a write through HAProxy lands after the hook
	conflictNote         string // row conflictRow on the new master after the hook
	reports              []string
}

func (e *env) story(ctx context.Context) (*result, error) {
	db, err := e.appDB()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	step("writing %d transactions through HAProxy", e.o.txns)
	start := time.Now()
	for i := range e.o.txns {
		if _, err := db.ExecContext(ctx, "INSERT INTO app.orders (amount, note, at) VALUES (?, ?, NOW(6))",
			fmt.Sprintf("%d.%02d", i, i%100), fmt.Sprintf("order %d", i)); err != nil {
			return nil, fmt.Errorf("insert %d: %w", i, err)
		}
	}
	fmt.Printf("    %d transactions in %s\n", e.o.txns, time.Since(start).Round(time.Millisecond))
	if err := e.topo.WaitCaughtUp(ctx); err != nil {
		return nil, err
	}
	old := e.topo.Primary
	step("cutting replication (STOP SLAVE on both replicas), then %d more transactions on the master alone", e.o.lost)
	for _, r := range e.topo.Replicas {
		if err := r.StopReplication(ctx); err != nil {
			return nil, err
		}
	}
	if _, err := db.ExecContext(ctx, "UPDATE app.orders SET note = ? WHERE id = ?", "lost: gift wrap", conflictRow); err != nil {
		return nil, fmt.Errorf("lost update: %w", err)
	}
	for i := 1; i < e.o.lost; i++ {
		if _, err := db.ExecContext(ctx, "INSERT INTO app.orders (amount, note, at) VALUES (?, ?, NOW(6))",
			fmt.Sprintf("%d.00", i), fmt.Sprintf("lost %d", i)); err != nil {
			return nil, fmt.Errorf("lost insert %d: %w", i, err)
		}
	}
	oldPos, err := old.GTIDBinlogPos(ctx)
	if err != nil {
		return nil, err
	}
	start = time.Now()
	if err := e.d.waitCaptured(ctx, e.o.bin, e.cfg, oldPos); err != nil {
		return nil, err
	}
	fmt.Printf("    master at %s; capture log holds it (%s after the last commit)\n", oldPos.Position(),
		time.Since(start).Round(time.Millisecond))
	step("kill -9 the master %s", old.Addr())
	if err := old.Kill(); err != nil {
		return nil, err
	}
	db.Close()
	return e.failover(ctx, old, oldPos)
}

// failover promotes a replica, makes the conflict and runs the hook.
func (e *env) failover(ctx context.Context, old *sandbox.Instance, oldPos repl.GTIDSet) (*result, error) {
	rec := e2e.Recovery{Failed: old.Addr(), Alias: cluster, UID: fmt.Sprintf("%d:%s", time.Now().UnixNano(), randomHex(32)),
		Replicas: []string{e.topo.Replicas[0].Addr(), e.topo.Replicas[1].Addr()}}
	step("promoting a replica as Orchestrator does (detached, read_only=OFF)")
	nm, err := e.topo.Promote(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := nm.Pool()
	if err != nil {
		return nil, err
	}
	var file string
	var pos int64
	var skip1, skip2 sql.NullString
	if err := pool.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &skip1, &skip2); err != nil {
		return nil, fmt.Errorf("SHOW MASTER STATUS on the new master: %w", err)
	}
	rec.Successor, rec.SuccessorCoordinates = nm.Addr(), fmt.Sprintf("%s:%d", file, pos)
	succPos, err := nm.GTIDBinlogPos(ctx)
	if err != nil {
		return nil, err
	}
	res := &result{oldMaster: old.Addr(), newMaster: nm.Addr(), lost: oldPos.Subtract(succPos), lostRows: e.o.lost - 1}
	fmt.Printf("    new master %s at %s: %d transactions of the old master are not on it\n", nm.Addr(), succPos.Position(),
		res.lost.Count())
	step("a client writes directly on the new master: row id=%d, which a lost transaction also changed", conflictRow)
	if _, err := nm.Exec(ctx, "UPDATE app.orders SET note = ? WHERE id = ?", newMasterNote, conflictRow); err != nil {
		return nil, err
	}
	args, env, err := e.fx.Post(rec)
	if err != nil {
		return nil, err
	}
	step("recoup hook PostFailoverProcesses ... (Orchestrator 3.2.6's %d arguments and %d ORC_* variables)", len(args), len(env))
	run, err := runHook(ctx, e.o.bin, e.cfg, args, env)
	if err != nil {
		return nil, err
	}
	fmt.Print(indent(run.stdout))
	if run.code != 0 {
		return nil, fmt.Errorf("recoup hook exited %d\nstdout:\n%s\nstderr:\n%s", run.code, run.stdout, run.stderr)
	}
	res.hookWall = run.wall
	return res, e.check(ctx, nm, rec.UID, res)
}

// check reads the hook's record and verifies the new master and the proxy.
func (e *env) check(ctx context.Context, nm *sandbox.Instance, uid string, res *result) error {
	var err error
	if res.sum, err = loadSummary(filepath.Join(e.work, "reports", "hook-runs"), uid); err != nil {
		return err
	}
	res.newGTIDs = res.sum.Result.Counts.NewGTIDs
	pool, err := nm.Pool()
	if err != nil {
		return err
	}
	inBinlog, err := binlogGTIDs(ctx, pool)
	if err != nil {
		return fmt.Errorf("reading the new master's binary log: %w", err)
	}
	for g := range res.lost.All() {
		if inBinlog[g.String()] {
			res.restored++
		}
	}
	if err := pool.QueryRowContext(ctx, "SELECT COUNT(*) FROM app.orders WHERE note LIKE 'lost %'").Scan(&res.rowsBack); err != nil {
		return fmt.Errorf("counting restored rows: %w", err)
	}
	if err := pool.QueryRowContext(ctx, "SELECT note FROM app.orders WHERE id = ?", conflictRow).Scan(&res.conflictNote); err != nil {
		return fmt.Errorf("reading the conflicting row: %w", err)
	}
	db, err := e.appDB()
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "INSERT INTO app.orders (amount, note, at) VALUES (1, 'after the failover', NOW(6))"); err != nil {
		return fmt.Errorf("writing through HAProxy after the hook: %w", err)
	}
	var id uint32
	var port int
	if err := db.QueryRowContext(ctx, "SELECT @@server_id, @@port").Scan(&id, &port); err != nil {
		return fmt.Errorf("asking HAProxy's writer who it is: %w", err)
	}
	res.afterWrite = fmt.Sprintf("server_id=%d port %d", id, port)
	if id != nm.ServerID {
		return fmt.Errorf("HAProxy's writer is %s, not the new master (server_id=%d)", res.afterWrite, nm.ServerID)
	}
	res.afterWrite += " (the new master)"
	res.reports, err = copyReports(res.sum.Reports, e.o.reportDir)
	if err != nil {
		return err
	}
	step("recoup status (capture follows the new master)")
	return show(ctx, e.o.bin, "status", "--config", e.cfg)
}

func indent(s string) string {
	if s = strings.TrimRight(s, "\n"); s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}
