package applier

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// findStart returns the offset of the first record whose After is not a
// subset of ex.base: every earlier transaction of the log is executed on
// the new master, so the missing set starts there. Records' After only
// grows, so this is a binary search over offsets: O(log n) reads, never a
// scan of the log. It returns next (the log's end) when nothing is missing.
//
// It fails when the log no longer holds transactions the new master lacks
// (retention deleted them): the first retained record's predecessors are
// then not all executed.
func findStart(ctx context.Context, store capture.Store, ex *executed) (int64, error) {
	first, next, err := store.Bounds(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the capture log's bounds: %w", err)
	}
	lo, hi, ans := first, next, next
	var ansRec capture.Record
	for lo < hi {
		mid := lo + (hi-lo)/2
		rec, ok, err := capture.RecordAt(ctx, store, mid, hi)
		if err != nil {
			return 0, err
		}
		switch {
		case !ok:
			hi = mid
		case rec.After.Subset(ex.base):
			lo = rec.Offset + 1
		default:
			ans, ansRec, hi = rec.Offset, rec, mid
		}
	}
	if ans < next && ans == first {
		if err := checkRetained(ansRec, ex); err != nil {
			return 0, err
		}
	}
	return ans, nil
}

// checkRetained verifies that the transactions before the log's first
// record are all executed on the new master.
func checkRetained(rec capture.Record, ex *executed) error {
	before := rec.After
	if rec.Kind == capture.KindTxn {
		own, err := repl.GTIDSetOf(rec.GTID.Flavor, rec.GTID)
		if err != nil {
			return fmt.Errorf("capture record at offset %d: %w", rec.Offset, err)
		}
		before = before.Subtract(own)
	}
	lack := before.Subtract(ex.base)
	for g := range lack.All() {
		if !ex.has(g) {
			return fmt.Errorf("the capture log's first record (offset %d) comes after transactions the new master lacks "+
				"(e.g. %s, of %s): retention deleted them, they cannot be compensated", rec.Offset, g, lack)
		}
	}
	return nil
}

// statusTail is how many records at the end of the log captureStatus reads
// to find the old master's last master-state record. After a failover the
// hook compensates right after the switch, so the tail is short; a master
// whose failure record is further back is reported "unknown-after".
const statusTail = 1000

// captureStatus states how far the log is known to be complete for the
// master that failed (capture.CaptureStatus on the log's tail): "complete"
// only when the streamer was reading that master when it failed.
func captureStatus(ctx context.Context, store capture.Store) (CaptureStatus, error) {
	first, next, err := store.Bounds(ctx)
	if err != nil {
		return CaptureStatus{}, fmt.Errorf("reading the capture log's bounds: %w", err)
	}
	if next <= first {
		return CaptureStatus{State: "empty", Detail: "the capture log is empty"}, nil
	}
	tail, err := readTail(ctx, store, max(first, next-statusTail))
	if err != nil {
		return CaptureStatus{}, err
	}
	c := capture.CaptureStatus(tail, "")
	st := CaptureStatus{State: c.State, Master: c.Master, Detail: c.Summary}
	if !c.LastGTID.IsZero() {
		st.LastGTID = c.LastGTID.String()
	}
	return st, nil
}

// readTail reads every record from offset from to the end of the log.
func readTail(ctx context.Context, store capture.Store, from int64) ([]capture.Record, error) {
	r, err := store.ReadFrom(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("reading the capture log at offset %d: %w", from, err)
	}
	defer r.Close()
	var tail []capture.Record
	for {
		rec, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return tail, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the capture log's tail: %w", err)
		}
		rec.FormatDesc, rec.Events, rec.Tables = nil, nil, nil // only the headers are needed
		tail = append(tail, rec)
	}
}
