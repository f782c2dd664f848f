package streamer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// pump moves events from go-mysql through the transaction builder into
// the store, with group commit: finished transactions accumulate while
// events keep arriving, and are appended in one batch as soon as no event
// is immediately pending or a batch limit is reached. The append runs in
// its own goroutine while the next batch is built (pipeline.go).
type pump struct {
	s      *Streamer
	b      *txnBuilder
	hist   *schemaHistory
	since  int // records since the last schema snapshot
	events <-chan *replication.BinlogEvent
	errs   <-chan error
	// gate holds semi-synchronous acknowledgements (nil: none); handled
	// counts the events taken from events, for it.
	gate    *ackGate
	handled int64

	batch      []capture.Record // being built
	spare      []capture.Record // the buffer of the last durable batch, for reuse
	inflight   *appendJob       // the batch being appended, nil when none
	batchBytes int
	rowsEvents int
	announced  bool

	// head announces the session in the log: a connection record, or a
	// failure and switch record (see Streamer.plan).
	head []capture.Record
	// after is the captured set; while split, the builder's own position
	// (the master's history) is not all of it and records carry both
	// (see pump.place). window holds captured transactions of another
	// history the master may send again (a lost transaction replayed with
	// its original GTID): they are skipped.
	after  repl.GTIDSet
	split  bool
	window map[repl.GTID]bool
}

func (p *pump) run(ctx context.Context) error {
	err := p.loop(ctx)
	// A started append is always waited for: what it made durable is
	// published, and the next session reads the store's last record.
	if serr := p.settle(); serr != nil && err == nil {
		err = serr
	}
	return err
}

// loop reads events into the batch being built and starts its append
// (one in flight at most, see pipeline.go) as soon as no event is
// immediately pending, or a batch limit is reached; while an append runs,
// the next batch keeps growing.
func (p *pump) loop(ctx context.Context) error {
	for {
		if p.inflight == nil && len(p.batch) > 0 {
			select {
			case ev := <-p.events:
				if err := p.handle(ctx, ev); err != nil {
					return err
				}
				continue
			default:
				p.start(ctx)
			}
		}
		events := p.events
		if p.batchFull() {
			events = nil // back pressure: wait for the append in flight
		}
		var done <-chan error
		if p.inflight != nil {
			done = p.inflight.done
		}
		select {
		case ev := <-events:
			if err := p.handle(ctx, ev); err != nil {
				return err
			}
			if err := p.takeReady(ctx); err != nil {
				return err
			}
		case err := <-done:
			if err := p.complete(err); err != nil {
				return err
			}
		case err := <-p.errs:
			return p.drain(ctx, streamError(err))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// takeReady handles the events already waiting, until none is or the
// batch is full. A receive with a default case costs a fraction of the
// loop's select over four channels, which took a fifth of the streamer's
// CPU when run for every event of a catch-up.
func (p *pump) takeReady(ctx context.Context) error {
	for !p.batchFull() {
		select {
		case ev := <-p.events:
			if err := p.handle(ctx, ev); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// drain processes the events that arrived before the stream failed and
// makes their finished transactions durable, then returns the failure.
func (p *pump) drain(ctx context.Context, cause error) error {
	for {
		select {
		case ev := <-p.events:
			if err := p.handle(ctx, ev); err != nil {
				return err
			}
			if p.batchFull() {
				if err := p.flush(ctx); err != nil {
					return errors.Join(cause, err)
				}
			}
			continue
		default:
		}
		if err := p.flush(ctx); err != nil {
			return errors.Join(cause, err)
		}
		return cause
	}
}

func (p *pump) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	p.handled++
	err := p.take(ctx, ev)
	if err == nil && len(p.batch) == 0 && p.inflight == nil {
		// Every event taken so far is durable or ends no transaction.
		p.gate.settle(p.handled)
	}
	return err
}

// take places one event: in the transaction being built, and the
// transactions it finishes in the batch.
func (p *pump) take(ctx context.Context, ev *replication.BinlogEvent) error {
	if !p.announced {
		// The master accepted the position: record where capture from it
		// resumes (on first start, where capture begins), or the switch.
		p.announced = true
		p.batch = append(p.batch, p.head...)
	}
	switch ev.Header.EventType {
	case replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2:
		p.s.setCaughtUp(!p.b.pending() && len(p.batch) == 0 && p.inflight == nil)
		return nil
	case replication.MARIADB_GTID_EVENT, replication.GTID_EVENT, replication.GTID_TAGGED_LOG_EVENT:
		p.s.setCaughtUp(false)
	}
	bt, err := p.b.add(ctx, ev)
	if err != nil {
		if errors.Is(err, ErrUndecodable) {
			return fatal(err)
		}
		return err
	}
	if bt == nil || !p.place(&bt.rec) {
		return nil
	}
	p.batch = append(p.batch, bt.rec)
	p.batchBytes += bt.bytes
	p.rowsEvents += bt.rowsEvents
	if p.since++; p.hist.changed || p.since >= snapshotEvery {
		// In the same batch as the DDL: durable together (see loadHistory
		// for a batch made durable only in part).
		p.hist.changed, p.since = false, 0
		p.batch = append(p.batch, p.hist.snapshotRecord(bt.rec))
	}
	if p.inflight == nil && p.batchFull() {
		p.start(ctx)
	}
	return nil
}

// streamError classifies an error from go-mysql's stream: an event it
// could not parse is fatal (quoted with its bytes); connection errors and
// server errors are returned as they are, for the caller to retry or to
// examine.
func streamError(err error) error {
	var ee *replication.EventError
	switch {
	case errors.As(err, &ee):
		return fatal(fmt.Errorf("%w: %s event at binlog position %d (server %d): %s; event body %s",
			ErrUndecodable, ee.Header.EventType, ee.Header.LogPos, ee.Header.ServerID, ee.Err, hexBounded(ee.Data)))
	case errors.Is(err, replication.ErrChecksumMismatch):
		return fatal(fmt.Errorf("%w: %w", ErrUndecodable, err))
	}
	msg := err.Error()
	for _, s := range []string{"invalid data size", "header size too short", "panic "} {
		if strings.Contains(msg, s) {
			return fatal(fmt.Errorf("%w: %w", ErrUndecodable, err))
		}
	}
	return fmt.Errorf("reading the binlog stream: %w", err)
}
