package capture

import (
	"context"

	"github.com/recoup-dev/recoup/repl"
)

// Dedupe wraps r to drop the duplicate transactions an at-least-once store
// (Kafka with producer retries) may hold: a KindTxn record whose GTID is
// already in the captured set of its history. The captured set is the
// union of the resume positions (Record.ResumeAt) of the records passed
// through since the history began (the union, not the last one, so that a
// retried non-transaction record with an older position cannot shrink
// it). Every other record passes.
//
// A KindMasterSwitch record with a position begins a new history: the
// captured set restarts at its ResumeAt. After a MariaDB failover that lost
// transactions, the new master reuses their sequence numbers for its own
// transactions, which the old history's set would wrongly call duplicates;
// the streamer never writes a transaction of the new history twice, nor
// one the old history already holds. A repeat of the same switch record (a
// retried append) does not restart the history again.
//
// Records keep their store offsets, so offsets of a deduplicated stream
// can skip.
func Dedupe(r Reader) Reader { return &dedupeReader{r: r} }

type dedupeReader struct {
	r        Reader
	captured repl.GTIDSet // empty before the first record: holds nothing
	switched *Record      // the last switch that began a history
}

// Next returns the next record that is not a duplicate; io.EOF and errors
// of the wrapped reader pass unchanged.
func (d *dedupeReader) Next(ctx context.Context) (Record, error) {
	for {
		rec, err := d.r.Next(ctx)
		if err != nil {
			return rec, err
		}
		if rec.Kind == KindMasterSwitch && !rec.ResumeAt().IsEmpty() && !sameSwitch(d.switched, rec) {
			d.switched = &Record{From: rec.From, To: rec.To, After: rec.After, MasterPos: rec.MasterPos}
			d.captured = rec.ResumeAt()
			return rec, nil
		}
		if rec.Kind == KindTxn && d.captured.Contains(rec.GTID) {
			continue
		}
		d.captured = grow(d.captured, rec.ResumeAt())
		return rec, nil
	}
}

func sameSwitch(prev *Record, rec Record) bool {
	return prev != nil && prev.From == rec.From && prev.To == rec.To && prev.After.Equal(rec.After) &&
		prev.MasterPos.Equal(rec.MasterPos)
}

// Close closes the wrapped reader.
func (d *dedupeReader) Close() error { return d.r.Close() }

// grow returns captured plus after. A set of another flavor (which a
// cluster never mixes) replaces it rather than panic in Union.
func grow(captured, after repl.GTIDSet) repl.GTIDSet {
	switch {
	case after.IsEmpty():
		return captured
	case captured.IsEmpty() || captured.Flavor() != after.Flavor():
		return after
	}
	return captured.Union(after)
}
