package applier

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

// batch reads the rows a batch touches, decides it and, unless dry,
// replays what the plan says, each transaction in its own DB transaction
// with its original GTID.
//
// Locking: the rows are read with SELECT ... FOR UPDATE inside the DB
// transaction of the batch's first transaction, so they stay locked until
// that one commits or rolls back; the later transactions of the batch rely
// on the fence (read_only=ON: only privileged users can write).
func (e *engine) batch(ctx context.Context, st *conflict.State, w *work, dry bool) error {
	var q querier = e.sess.conn
	var first *dbTxn
	if !dry {
		var err error
		if first, err = e.beginFor(ctx, &w.items[0]); err != nil {
			return err
		}
		q = first.tx
	}
	t := time.Now()
	cur, err := fetchPlanned(ctx, q, e.opts.Flavor, w.need, w.sels)
	e.res.Timings.FetchMS += ms(time.Since(t))
	if err != nil {
		e.abandon(first)
		return err
	}
	if dry || e.opts.Policy == conflict.PolicyAbort {
		return e.decideThenRun(ctx, st, w.items, w.txns, w.need, cur, first, dry)
	}
	return e.decideWhileRunning(ctx, st, w.items, w.txns, w.need, cur, first)
}

// decideThenRun decides the whole batch, then carries out the plan: a dry
// run, and policy abort, whose last conflict can overturn every decision.
func (e *engine) decideThenRun(ctx context.Context, st *conflict.State, items []item, txns []repl.Txn,
	need []conflict.Fetch, cur conflict.Current, first *dbTxn, dry bool) error {
	t := time.Now()
	plan, err := st.DecideFetched(txns, need, cur)
	e.res.Timings.DecideMS += ms(time.Since(t))
	if err != nil {
		e.abandon(first)
		return err
	}
	for i := range plan.Txns {
		d := &plan.Txns[i]
		if err := e.carryOut(ctx, &items[i], d, txnResult(items[i].rec.Offset, &txns[i], d), first, dry); err != nil {
			return err
		}
		first = nil // the first transaction is committed or rolled back now
	}
	return nil
}

// decided is one decision and its report entry, as the planner goroutine
// hands them over.
type decided struct {
	d *conflict.TxnDecision
	r TxnResult
}

// decideWhileRunning decides the batch in a goroutine and applies each
// transaction as soon as it is decided, so the server replays the batch's
// first transactions while the planner works on the next ones (and writes
// their report entries: nothing but the replay waits for the server). The State
// is only touched by that goroutine until it returns; a failed
// application stops the run (the later decisions are void, as ever). Once
// the whole batch ran, the State forgets its simulated effects
// (State.Executed): the next batch's rows are read from the new master.
func (e *engine) decideWhileRunning(ctx context.Context, st *conflict.State, items []item, txns []repl.Txn,
	need []conflict.Fetch, cur conflict.Current, first *dbTxn) error {
	ready := make(chan decided, len(txns)) // never blocks the planner
	var derr error
	var took time.Duration
	go func() {
		defer close(ready)
		t := time.Now()
		tn := e.cpu.turn()
		tn.take()
		_, derr = st.DecideEach(txns, need, cur, func(i int, d *conflict.TxnDecision) {
			ready <- decided{d: d, r: txnResult(items[i].rec.Offset, &txns[i], d)}
			tn.pause() // between transactions, the producer may have its turn
			tn.take()
		})
		tn.drop()
		took = time.Since(t)
	}()
	var err error
	i := 0
	for x := range ready {
		if err == nil {
			err = e.carryOut(ctx, &items[i], x.d, x.r, first, false)
			first = nil
		}
		i++
	}
	e.res.Timings.DecideMS += ms(took) // written before ready was closed
	if derr != nil {                   // before any decision: first is still open
		e.abandon(first)
		return derr
	}
	if err == nil {
		st.Executed() // the next batch's rows are read after this one ran
	}
	return err
}

// carryOut records one decision, with r its report entry (txnResult),
// and, unless dry, executes it. open is the DB transaction already begun
// for it (the batch's first), or nil.
func (e *engine) carryOut(ctx context.Context, it *item, d *conflict.TxnDecision, r TxnResult, open *dbTxn, dry bool) error {
	var err error
	if !dry {
		err = e.execute(ctx, it, d, &r, open)
	} else {
		e.abandon(open)
	}
	e.res.Txns = append(e.res.Txns, r)
	return err
}

// beginFor installs it's format description event and starts the DB
// transaction that will carry it.
func (e *engine) beginFor(ctx context.Context, it *item) (*dbTxn, error) {
	if err := e.sess.installFDE(ctx, it.rec.FormatDesc); err != nil {
		return nil, fmt.Errorf("transaction %s: %w", it.rec.GTID, err)
	}
	return e.sess.begin(ctx, it.rec.GTID, false)
}

func (e *engine) abandon(t *dbTxn) {
	if t != nil {
		e.sess.rollback(t)
	}
}

// execute carries out one decision. open is the DB transaction already
// begun for it (the batch's first), or nil.
func (e *engine) execute(ctx context.Context, it *item, d *conflict.TxnDecision, r *TxnResult, open *dbTxn) error {
	switch d.Verdict {
	case conflict.Apply, conflict.ApplyOverwrite:
	default:
		e.abandon(open)
		return nil
	}
	if d.Verdict == conflict.ApplyOverwrite && len(it.txn.Changes) == 0 {
		e.abandon(open)
		r.Reason += "; not applied: statements (DDL or statement-format DML) cannot be overwritten"
		return nil
	}
	t := time.Now()
	err := e.apply(ctx, it, d, r, open)
	r.ApplyMS = ms(time.Since(t))
	e.res.Timings.ApplyMS += r.ApplyMS
	if err != nil {
		r.Error = err.Error()
		return fmt.Errorf("applying %s: %w (later transactions were not applied)", it.rec.GTID, err)
	}
	return nil
}

// apply replays one transaction and commits it. When MariaDB strict mode
// refuses the original GTID at COMMIT (a write slipped in since it was
// set), it replays it once more under a new GTID.
func (e *engine) apply(ctx context.Context, it *item, d *conflict.TxnDecision, r *TxnResult, open *dbTxn) error {
	if open == nil && d.Verdict == conflict.Apply && it.seqFor != "" {
		return e.applyAlone(ctx, it, r)
	}
	t := open
	var err error
	if t == nil {
		if t, err = e.beginFor(ctx, it); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		if err = e.write(ctx, t, it, d); err != nil {
			e.sess.rollback(t)
			return err
		}
		newGTID, err := e.sess.commit(ctx, t)
		if err == nil {
			r.Applied = true
			if !newGTID.IsZero() {
				r.NewGTID = newGTID.String()
			}
			if r.NewGTID != "" {
				e.log.Warn("replayed under a new GTID: strict mode refused the original one", "gtid", it.rec.GTID.String(),
					"new_gtid", r.NewGTID)
			}
			return nil
		}
		if attempt > 0 || t.fallback || !isMySQLError(err, erGTIDStrictOutOfOrder) {
			return err
		}
		if t, err = e.sess.begin(ctx, it.rec.GTID, true); err != nil {
			return err
		}
	}
}

// applyAlone replays a transaction of one BINLOG statement in autocommit
// mode (session.autocommit). Only for transactions that hold no locks of
// the batch: the batch's first runs in an explicit DB transaction.
func (e *engine) applyAlone(ctx context.Context, it *item, r *TxnResult) error {
	if err := e.checkPacket(it.replay[0]); err != nil {
		return err
	}
	if err := e.sess.installFDE(ctx, it.rec.FormatDesc); err != nil {
		return fmt.Errorf("transaction %s: %w", it.rec.GTID, err)
	}
	newGTID, err := e.sess.autocommit(ctx, it.rec.GTID, it.replay[0], it.seqFor, false)
	if err != nil {
		return err
	}
	r.Applied = true
	if !newGTID.IsZero() {
		r.NewGTID = newGTID.String()
		e.log.Warn("replayed under a new GTID: strict mode refused the original one", "gtid", it.rec.GTID.String(),
			"new_gtid", r.NewGTID)
	}
	return nil
}

func (e *engine) checkPacket(q string) error {
	if int64(len(q)) > e.sess.maxPacket {
		return fmt.Errorf("a BINLOG statement of %d bytes exceeds the new master's max_allowed_packet (%d)", len(q), e.sess.maxPacket)
	}
	return nil
}

// write runs the transaction's statements inside t: the original events
// for Apply, typed statements for ApplyOverwrite.
func (e *engine) write(ctx context.Context, t *dbTxn, it *item, d *conflict.TxnDecision) error {
	if d.Verdict == conflict.ApplyOverwrite {
		return e.overwrite(ctx, t, it, d)
	}
	if it.replayErr != nil {
		return it.replayErr
	}
	for _, q := range it.replay {
		if err := e.checkPacket(q); err != nil {
			return err
		}
		if _, err := t.tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("replaying the row events: %w", err)
		}
	}
	return nil
}

func (e *engine) overwrite(ctx context.Context, t *dbTxn, it *item, d *conflict.TxnDecision) error {
	trig, err := tablesWithTriggers(ctx, t.tx, &it.txn)
	if err != nil {
		return err
	}
	if hasTriggerFlag(it.rec) {
		trig = append(trig, "a table the captured table maps flag as having triggers")
	}
	if len(trig) > 0 {
		return fmt.Errorf("source-wins cannot overwrite rows of tables with triggers (%s): the triggers would fire "+
			"again; resolve this transaction by hand", strings.Join(trig, ", "))
	}
	stmts, err := overwriteStatements(&it.txn, d)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := t.tx.ExecContext(ctx, st.query, st.args...); err != nil {
			return fmt.Errorf("overwriting a row: %w", err)
		}
	}
	return nil
}
