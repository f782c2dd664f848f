package applier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
)

// pipelineDepth is how many decoded batches the producer may hold ready
// ahead of the one being applied.
const pipelineDepth = 2

// item is one missing transaction, decoded, with its replay statements
// prepared ahead by the producer.
type item struct {
	rec    capture.Record
	txn    repl.Txn
	replay []string // the BINLOG statements (replayStatements), nil when replayErr
	// seqFor is, for a MariaDB transaction of one BINLOG statement, that
	// statement under its GTID's sequence number (mariadbSeqFor), which
	// session.autocommit runs; replay[0] is its tail, sharing its bytes.
	seqFor    string
	replayErr error      // why the row events cannot be replayed
	collision *Collision // the new master used this GTID's sequence number
}

// work is one batch as the producer hands it over: its transactions,
// decoded, and what to read for them, listed and written ahead, since none
// of it depends on the new master's rows.
type work struct {
	items []item
	txns  []repl.Txn       // items' transactions, in order
	need  []conflict.Fetch // the keys to read (conflict.KeyLister)
	sels  [][]selectStmt   // per need entry, the SELECTs that read them
}

// produce reads the capture log from the start offset, keeps the missing
// transactions, decodes them and sends them in batches of BatchTxns on out,
// which it closes, with their keys listed and SELECTs written (FOR UPDATE
// unless dry). It is the only goroutine that touches the reader and
// e.tables during a pass. It computes only with its turn of e.cpu.
func (e *engine) produce(ctx context.Context, out chan<- *work, dry bool) error {
	defer close(out)
	r, err := e.store.ReadFrom(ctx, e.start)
	if err != nil {
		return fmt.Errorf("reading the capture log from offset %d: %w", e.start, err)
	}
	reader := capture.Dedupe(r)
	defer reader.Close()
	keys := conflict.NewKeyLister()
	tn := e.cpu.turn()
	defer tn.drop()
	send := func(b []item) error {
		tn.take()
		w := planWork(keys, b, !dry)
		tn.drop() // the send may wait for the applier
		select {
		case out <- w:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	batch := make([]item, 0, e.opts.BatchTxns)
	for {
		// The share may stay taken across Next: it returns io.EOF at the
		// log's current end and never waits for new records.
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
		tn.take()
		it, err := e.decode(rec)
		tn.pause()
		if err != nil {
			return err
		}
		if batch = append(batch, it); len(batch) == e.opts.BatchTxns {
			if err := send(batch); err != nil {
				return err
			}
			batch = make([]item, 0, e.opts.BatchTxns)
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return send(batch)
}

// planWork lists a batch's keys and writes the SELECTs that read them.
func planWork(keys *conflict.KeyLister, items []item, forUpdate bool) *work {
	w := &work{items: items, txns: make([]repl.Txn, len(items))}
	for i := range items {
		w.txns[i] = items[i].txn
	}
	w.need = keys.NeededKeys(w.txns)
	w.sels = make([][]selectStmt, len(w.need))
	for i, f := range w.need {
		w.sels[i] = buildSelects(f, forUpdate)
	}
	return w
}

// decode decodes rec and prepares its replay statements.
func (e *engine) decode(rec capture.Record) (item, error) {
	it := item{rec: rec}
	if o, ok := e.ex.collision(rec.GTID); ok {
		it.collision = &Collision{NewMaster: o.String(), Captured: rec.GTID.String()}
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
	it.txn = txn
	e.replayText(&it)
	return it, nil
}

// replayText writes it's BINLOG statements, or why there are none.
func (e *engine) replayText(it *item) {
	stmts, err := replayStatements(it.rec)
	if err != nil {
		it.replayErr = err
		return
	}
	var parts []binlogStatement
	for _, st := range stmts {
		p, err := splitForPacket(st, e.sess.maxPacket)
		if err != nil {
			it.replayErr = fmt.Errorf("transaction %s: %w", it.rec.GTID, err)
			return
		}
		parts = append(parts, p...)
	}
	if len(parts) == 1 && e.opts.Flavor == repl.MariaDB {
		prefix := mariadbSeqPrefix(it.rec.GTID.Seq)
		it.seqFor = parts[0].sqlAfter(prefix)
		it.replay = []string{it.seqFor[len(prefix):]}
		return
	}
	for _, p := range parts {
		it.replay = append(it.replay, p.SQL())
	}
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
