package capture

import (
	"context"

	"github.com/recoup-dev/recoup/repl"
)

// Dedupe wraps r to drop the duplicate transactions an at-least-once store
// (Kafka with producer retries) may hold: a KindTxn record whose GTID is
// already in the captured set, the union of the After sets of the records
// passed through (the union, not the last After, so that a retried
// non-transaction record with an older After cannot shrink it). Every
// other record passes.
// Records keep their store offsets, so offsets of a deduplicated stream
// can skip.
func Dedupe(r Reader) Reader { return &dedupeReader{r: r} }

type dedupeReader struct {
	r        Reader
	captured repl.GTIDSet // empty before the first record: holds nothing
}

// Next returns the next record that is not a duplicate; io.EOF and errors
// of the wrapped reader pass unchanged.
func (d *dedupeReader) Next(ctx context.Context) (Record, error) {
	for {
		rec, err := d.r.Next(ctx)
		if err != nil {
			return rec, err
		}
		if rec.Kind == KindTxn && d.captured.Contains(rec.GTID) {
			continue
		}
		d.captured = grow(d.captured, rec.After)
		return rec, nil
	}
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
