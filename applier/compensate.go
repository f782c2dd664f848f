package applier

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
)

// Plan computes what Compensate would do, changing nothing: it finds the
// missing transactions, reads the rows they touch (plain SELECTs, outside
// any transaction, no locks) and decides each. Every TxnResult has
// Applied false.
func Plan(ctx context.Context, db *sql.DB, store capture.Store, opts Options) (*Result, error) {
	return run(ctx, db, store, opts, true)
}

// Compensate brings the new master (db) up to every transaction of the
// capture log it lacks, in commit order, without overwriting rows that
// changed since: see the package documentation. It returns the result even
// with an error, showing what was applied before the run stopped; an
// interrupted or expired ctx rolls back the transaction in progress.
func Compensate(ctx context.Context, db *sql.DB, store capture.Store, opts Options) (*Result, error) {
	return run(ctx, db, store, opts, false)
}

// engine is one run.
type engine struct {
	opts  Options
	log   *slog.Logger
	sess  *session
	store capture.Store
	ex    *executed
	start int64
	res   *Result
	// tables holds one *repl.Table per distinct schema seen in the run:
	// changes of every transaction point at it, so the planner compares
	// schemas by pointer instead of rebuilding signatures for every row.
	tables map[string][]*repl.Table
}

// item is one missing transaction.
type item struct {
	rec capture.Record
	txn repl.Txn
}

func run(ctx context.Context, db *sql.DB, store capture.Store, opts Options, dry bool) (*Result, error) {
	began := time.Now()
	opts, log, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	res := &Result{Cluster: opts.Cluster, Flavor: opts.Flavor.String(), Policy: string(opts.Policy), DryRun: dry, Txns: []TxnResult{}}
	sess, err := openSession(ctx, db, opts.Flavor, log)
	if err != nil {
		return nil, err
	}
	defer sess.close()
	e := &engine{opts: opts, log: log, sess: sess, store: store, res: res}
	err = e.prepare(ctx, dry)
	if err == nil {
		err = e.passes(ctx, dry)
	}
	e.finish(began)
	if err != nil {
		res.Error = err.Error()
		return res, err
	}
	log.Info("compensation done", "dry_run", dry, "missing", res.Counts.Missing, "applied", res.Counts.Applied,
		"conflicts", res.Counts.Conflicts, "already_applied", res.Counts.AlreadyApplied)
	return res, nil
}

// prepare checks the fence and finds where the missing set starts.
func (e *engine) prepare(ctx context.Context, dry bool) error {
	t := time.Now()
	defer func() { e.res.Timings.FindMS = ms(time.Since(t)) }()
	if !dry && !e.opts.AllowWritable {
		var ro int
		if err := e.sess.conn.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only").Scan(&ro); err != nil {
			return fmt.Errorf("reading read_only of the new master: %w", err)
		}
		if ro == 0 {
			return errors.New("the new master is writable (read_only=OFF): fence it before compensating, or set AllowWritable")
		}
	}
	ex, err := readExecuted(ctx, e.sess.conn, e.opts.Flavor)
	if err != nil {
		return err
	}
	e.ex = ex
	e.res.Executed, e.res.Divergence, e.res.WrittenAfter = ex.text, ex.divergence, len(ex.exact)
	if e.res.Capture, err = captureStatus(ctx, e.store); err != nil {
		return err
	}
	if e.start, err = findStart(ctx, e.store, ex); err != nil {
		return err
	}
	e.res.StartOffset = e.start
	return nil
}

// passes runs the decisions, and the replay unless dry. Policy abort plans
// every batch first and applies nothing if any transaction conflicts.
func (e *engine) passes(ctx context.Context, dry bool) error {
	if dry || e.opts.Policy != conflict.PolicyAbort {
		return e.pass(ctx, dry)
	}
	if err := e.pass(ctx, true); err != nil {
		return err
	}
	for i := range e.res.Txns {
		if e.res.Txns[i].Verdict == conflict.Aborted {
			e.log.Warn("policy abort: a transaction conflicts, nothing is applied")
			abortEarlier(e.res.Txns[:i])
			return nil
		}
	}
	e.res.Txns, e.res.Collisions, e.res.Timings.FetchMS, e.res.Timings.DecideMS = []TxnResult{}, nil, 0, 0
	return e.pass(ctx, false)
}

// abortEarlier marks the transactions of the batches decided before the
// first conflict, which the planner could not abort yet (Plan.Abort's rule).
func abortEarlier(txns []TxnResult) {
	for i := range txns {
		if v := txns[i].Verdict; v != conflict.AlreadyApplied && v != conflict.Aborted {
			txns[i].Verdict = conflict.Aborted
			txns[i].Reason = "aborted: a later transaction conflicts (policy abort)"
		}
	}
}

// pass reads the missing transactions from the start offset, in log order,
// and handles them batch by batch.
func (e *engine) pass(ctx context.Context, dry bool) error {
	r, err := e.store.ReadFrom(ctx, e.start)
	if err != nil {
		return fmt.Errorf("reading the capture log from offset %d: %w", e.start, err)
	}
	reader := capture.Dedupe(r)
	defer reader.Close()
	st, err := conflict.NewState(e.opts.Policy)
	if err != nil {
		return err
	}
	batch := make([]item, 0, e.opts.BatchTxns)
	for {
		rec, err := reader.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the capture log: %w", err)
		}
		if rec.Kind != capture.KindTxn || e.ex.has(rec.GTID) {
			continue
		}
		it, err := e.decode(rec)
		if err != nil {
			return err
		}
		if batch = append(batch, it); len(batch) == e.opts.BatchTxns {
			if err := e.batch(ctx, st, batch, dry); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return e.batch(ctx, st, batch, dry)
}

func (e *engine) decode(rec capture.Record) (item, error) {
	if o, ok := e.ex.collision(rec.GTID); ok {
		e.res.Collisions = append(e.res.Collisions, Collision{NewMaster: o.String(), Captured: rec.GTID.String()})
		e.log.Warn("the new master wrote a transaction with a lost transaction's sequence number",
			"gtid", rec.GTID.String(), "new_master_gtid", o.String())
	}
	txn, err := streamer.DecodeTxn(rec)
	if err != nil {
		return item{}, fmt.Errorf("decoding missing transaction %s (offset %d): %w", rec.GTID, rec.Offset, err)
	}
	seen := map[*repl.Table]*repl.Table{}
	for i := range txn.Changes {
		c := &txn.Changes[i]
		if canon, ok := seen[c.Table]; ok {
			c.Table = canon
			continue
		}
		canon := e.canonical(c.Table)
		seen[c.Table], c.Table = canon, canon
	}
	return item{rec: rec, txn: txn}, nil
}

// canonical returns the run's pointer for a schema equal to t.
func (e *engine) canonical(t *repl.Table) *repl.Table {
	if e.tables == nil {
		e.tables = map[string][]*repl.Table{}
	}
	name := t.QualifiedName()
	for _, c := range e.tables[name] {
		if reflect.DeepEqual(c, t) {
			return c
		}
	}
	e.tables[name] = append(e.tables[name], t)
	return t
}

// finish fills the counts, the missing set and the timings.
func (e *engine) finish(began time.Time) {
	res := e.res
	res.Counts = Counts{}
	missing := repl.NewGTIDSet(e.opts.Flavor)
	for i := range res.Txns {
		t := &res.Txns[i]
		res.Counts.count(t)
		if g, err := repl.ParseGTID(e.opts.Flavor, t.GTID); err == nil {
			if m, err := missing.Add(g); err == nil {
				missing = m
			}
		}
	}
	res.Missing = missing.String()
	res.Timings.TotalMS = ms(time.Since(began))
}
