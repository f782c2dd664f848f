package applier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
)

// pipelineDepth is how many decoded batches the producer may hold ready
// ahead of the one being applied.
const pipelineDepth = 2

// item is one missing transaction, decoded, with its replay statements
// prepared ahead by the producer.
type item struct {
	rec       capture.Record
	txn       repl.Txn
	replay    []string   // the BINLOG statements (replayStatements), nil when stmtErr
	replayErr error      // why the row events cannot be replayed
	collision *Collision // the new master used this GTID's sequence number
}

// produce reads the capture log from the start offset, keeps the missing
// transactions, decodes them and sends them in batches of BatchTxns on out,
// which it closes. It is the only goroutine that touches the reader and
// e.tables during a pass.
func (e *engine) produce(ctx context.Context, out chan<- []item) error {
	defer close(out)
	r, err := e.store.ReadFrom(ctx, e.start)
	if err != nil {
		return fmt.Errorf("reading the capture log from offset %d: %w", e.start, err)
	}
	reader := capture.Dedupe(r)
	defer reader.Close()
	send := func(b []item) error {
		select {
		case out <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
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
	stmts, err := replayStatements(rec)
	if err != nil {
		it.replayErr = err
		return it, nil
	}
	for _, st := range stmts {
		parts, err := splitForPacket(st, e.sess.maxPacket)
		if err != nil {
			it.replayErr = fmt.Errorf("transaction %s: %w", rec.GTID, err)
			return it, nil
		}
		for _, p := range parts {
			it.replay = append(it.replay, p.SQL())
		}
	}
	return it, nil
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
