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
		rec, ok, err := recordAt(ctx, store, mid, hi)
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

// recordAt reads the first record at an offset in [from, below).
func recordAt(ctx context.Context, store capture.Store, from, below int64) (capture.Record, bool, error) {
	r, err := store.ReadFrom(ctx, from)
	if err != nil {
		return capture.Record{}, false, fmt.Errorf("reading the capture log at offset %d: %w", from, err)
	}
	defer r.Close()
	rec, err := r.Next(ctx)
	switch {
	case errors.Is(err, io.EOF):
		return capture.Record{}, false, nil
	case err != nil:
		return capture.Record{}, false, fmt.Errorf("reading the capture log at offset %d: %w", from, err)
	}
	return rec, rec.Offset < below, nil
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

// captureStatus says what the log's last record tells of the capture's
// completeness. The streamer writes a KindMasterState record on connect,
// disconnect and when it declares a master failed.
func captureStatus(ctx context.Context, store capture.Store) (CaptureStatus, error) {
	last, ok, err := store.Last(ctx)
	if err != nil {
		return CaptureStatus{}, fmt.Errorf("reading the capture log's last record: %w", err)
	}
	if !ok {
		return CaptureStatus{State: "empty", Detail: "the capture log is empty"}, nil
	}
	st := CaptureStatus{Master: last.Master}
	if g := last.GTID; !g.IsZero() {
		st.LastGTID = g.String()
	}
	switch {
	case last.Kind == capture.KindMasterState && last.Failed:
		st.State = "complete"
		st.Detail = "the streamer saw " + last.Master + " fail: the log holds every transaction it sent up to the crash"
	case last.Kind == capture.KindMasterState && !last.Connected:
		st.State = "unknown-after"
		st.Detail = "the streamer lost its connection to " + last.Master + " and recorded nothing later: " +
			"transactions committed after " + st.LastGTID + " may be missing from the log"
	case last.Kind == capture.KindMasterSwitch:
		st.State, st.Master = "switched", last.To
		st.Detail = "capture already moved from " + last.From + " to " + last.To
	default:
		st.State = "unknown-after"
		if last.Kind == capture.KindTxn {
			st.LastGTID = last.GTID.String()
		}
		st.Detail = "the log's last record is a " + last.Kind.String() + " record, with no failure recorded after it: " +
			"whether the master committed more after " + st.LastGTID + " is not known"
	}
	return st, nil
}
