package streamer

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// appendJob is one batch being appended by its own goroutine while the
// pump builds the next one. At most one is in flight: the next starts only
// once this one has returned nil, so batches reach the store in order and
// each Append extends exactly what the previous one made durable.
type appendJob struct {
	recs []capture.Record
	upTo int64      // events taken when the batch was handed over (ackGate)
	done chan error // receives Append's result once it is published
}

// start hands the batch being built to a new append and begins an empty
// one. What it holds is published (status, metrics, resume position) by
// the append's goroutine only when Append returned nil; nothing is
// published after a failure.
func (p *pump) start(ctx context.Context) {
	j := &appendJob{recs: p.batch, upTo: p.handled, done: make(chan error, 1)}
	rowsEvents, bytes := p.rowsEvents, p.batchBytes
	p.batch, p.spare = p.spare[:0], nil
	p.batchBytes, p.rowsEvents = 0, 0
	p.inflight = j
	go func() {
		start := time.Now()
		err := p.s.store.Append(ctx, j.recs...)
		if err == nil {
			p.s.durable(j.recs, time.Since(start), rowsEvents, bytes)
			// The events taken before the hand-over are in this batch,
			// in an earlier one, or in a transaction not finished yet.
			p.gate.settle(j.upTo)
		}
		j.done <- err
	}()
}

// complete takes the result of the append in flight (from its done
// channel) and recycles its buffer. A failed append is returned with what
// to do about it; the caller ends the session, dropping the batch being
// built, and the next session resumes from the store's last record.
func (p *pump) complete(err error) error {
	j := p.inflight
	p.inflight = nil
	if err == nil {
		clear(j.recs)
		p.spare = j.recs[:0]
		return nil
	}
	return p.s.appendError(len(j.recs), err)
}

// settle waits for the append in flight, if any, and returns its error.
// It ignores ctx: a started Append is always waited for, so that the
// session ends with the store in a known state (the next session reads
// its last record) and what it made durable is published.
func (p *pump) settle() error {
	if p.inflight == nil {
		return nil
	}
	return p.complete(<-p.inflight.done)
}

// flush appends the batch being built and waits until it is durable,
// after the append in flight.
func (p *pump) flush(ctx context.Context) error {
	if err := p.settle(); err != nil {
		return err
	}
	if len(p.batch) == 0 {
		return nil
	}
	p.start(ctx)
	return p.settle()
}

// batchFull reports whether the batch being built reached a limit: the
// pump then reads no more events until it can start appending it.
func (p *pump) batchFull() bool {
	return len(p.batch) >= p.s.cfg.MaxBatchRecords || p.batchBytes >= p.s.cfg.MaxBatchBytes
}

// appendError is the error of a failed Append of n records. A closed store
// and a full disk are fatal: retrying cannot cure them.
func (s *Streamer) appendError(n int, err error) error {
	err = fmt.Errorf("appending %d records to the capture log: %w", n, err)
	switch {
	case errors.Is(err, capture.ErrClosed):
		return fatal(err)
	case errors.Is(err, syscall.ENOSPC):
		pos, last := s.durablePosition()
		return fatal(fmt.Errorf("the capture log's disk is full: capture stopped after the last durable record "+
			"(captured position %s, last transaction %s); nothing after it was captured; free space on the "+
			"capture log's disk or move store.local.dir to a larger one, then restart recoup: it resumes "+
			"from that position: %w", pos, last, err))
	}
	return err
}

// durablePosition is the captured position and last transaction that the
// store holds durably (a failed Append may have made a prefix of its batch
// durable), or the streamer's status when the store cannot tell.
func (s *Streamer) durablePosition() (pos, last string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st := s.Status()
	if rec, ok, err := s.store.Last(ctx); err == nil && ok {
		if rec.GTID.IsZero() { // a schema snapshot repeats its transaction's position
			rec.GTID = st.LastGTID
		}
		return rec.After.String(), gtidText(rec.GTID)
	}
	return st.Position.String(), gtidText(st.LastGTID)
}

func gtidText(g repl.GTID) string {
	if g.IsZero() {
		return "none"
	}
	return g.String()
}
