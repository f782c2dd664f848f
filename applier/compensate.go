package applier

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
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
	cpu   cpuShare // of the producer and the planner
	// tables holds one *repl.Table per distinct schema seen in the run:
	// changes of every transaction point at it, so the planner compares
	// schemas by pointer instead of rebuilding signatures for every row.
	tables map[string][]*repl.Table
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
	e := &engine{opts: opts, log: log, sess: sess, store: store, res: res, cpu: newCPUShare()}
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

// pass handles the missing transactions batch by batch, in log order.
// A producer goroutine (see produce) reads and decodes the next batches,
// and lists and writes what to read for them, while this one fetches,
// decides and applies the current one; the
// decisions stay sequential, so the conflict State sees every earlier
// batch's effects before it decides the next.
func (e *engine) pass(ctx context.Context, dry bool) error {
	st, err := conflict.NewState(e.opts.Policy)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *work, pipelineDepth)
	perr := make(chan error, 1)
	go func() { perr <- e.produce(pctx, batches, dry) }()
	var runErr error
	for w := range batches {
		if runErr != nil {
			continue // drain until the producer sees the cancel
		}
		for i := range w.items {
			if w.items[i].collision != nil {
				e.res.Collisions = append(e.res.Collisions, *w.items[i].collision)
			}
		}
		if runErr = e.batch(ctx, st, w, dry); runErr != nil {
			cancel()
		}
	}
	if err := <-perr; runErr == nil {
		runErr = err
	}
	return runErr
}

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
