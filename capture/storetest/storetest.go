package storetest

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
)

// Factory makes the stores the contract test runs against.
type Factory struct {
	// New returns a new, empty store. Run closes it; New registers with
	// t.Cleanup whatever else must be removed (a directory, a topic).
	New func(t *testing.T) capture.Store
	// Reopen closes s and opens the same log again, as a restarted process
	// would.
	Reopen func(t *testing.T, s capture.Store) capture.Store
}

// Run runs the contract as subtests of t.
func Run(t *testing.T, f Factory) {
	if f.New == nil || f.Reopen == nil {
		t.Fatal("storetest.Factory needs both New and Reopen")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, f Factory)
	}{
		{"Empty", testEmpty},
		{"AppendRead", testAppendRead},
		{"LastAndBounds", testLastAndBounds},
		{"ReadFromMiddle", testReadFromMiddle},
		{"BatchAtomicity", testBatchAtomicity},
		{"Reopen", testReopen},
		{"FollowTail", testFollowTail},
		{"ConcurrentReadWrite", testConcurrent},
		{"LargeRecord", testLargeRecord},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

// open calls f.New and closes the store at the end of the test.
func open(t *testing.T, f Factory) *handle {
	h := &handle{s: f.New(t)}
	t.Cleanup(func() { _ = h.s.Close() }) // a second Close may return ErrClosed
	return h
}

// handle lets a test reopen its store and still have the last one closed.
type handle struct{ s capture.Store }

func (h *handle) reopen(t *testing.T, f Factory) { h.s = f.Reopen(t, h.s) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func appendAll(t *testing.T, s capture.Store, recs []capture.Record, batch int) {
	t.Helper()
	for i := 0; i < len(recs); i += batch {
		if err := s.Append(ctxT(t), recs[i:min(i+batch, len(recs))]...); err != nil {
			t.Fatalf("Append of records %d..: %v", i, err)
		}
	}
}

// readAll reads from offset from to the current end and checks every
// record against want, which starts at offset from.
func readAll(t *testing.T, s capture.Store, from int64, want []capture.Record) {
	t.Helper()
	r, err := s.ReadFrom(ctxT(t), from)
	if err != nil {
		t.Fatalf("ReadFrom(%d): %v", from, err)
	}
	defer r.Close()
	for i, w := range want {
		got, err := r.Next(ctxT(t))
		if err != nil {
			t.Fatalf("Next at offset %d: %v", from+int64(i), err)
		}
		checkRecord(t, from+int64(i), w, got)
	}
	if got, err := r.Next(ctxT(t)); err != io.EOF {
		t.Fatalf("Next after offset %d: want io.EOF, got %v (record at offset %d)", from+int64(len(want))-1, err, got.Offset)
	}
}

func checkRecord(t *testing.T, off int64, want, got capture.Record) {
	t.Helper()
	if got.Offset != off {
		t.Fatalf("record Offset = %d, want %d", got.Offset, off)
	}
	if d := Diff(want, got); d != "" {
		t.Fatalf("record at offset %d differs: %s", off, d)
	}
}

func checkBounds(t *testing.T, s capture.Store, first, next int64) {
	t.Helper()
	f, n, err := s.Bounds(ctxT(t))
	if err != nil {
		t.Fatalf("Bounds: %v", err)
	}
	if f != first || n != next {
		t.Fatalf("Bounds = (%d, %d), want (%d, %d)", f, n, first, next)
	}
}

func checkLast(t *testing.T, s capture.Store, off int64, want capture.Record) {
	t.Helper()
	got, ok, err := s.Last(ctxT(t))
	if err != nil || !ok {
		t.Fatalf("Last = ok %v, err %v; want the record at offset %d", ok, err, off)
	}
	checkRecord(t, off, want, got)
}

func testEmpty(t *testing.T, f Factory) {
	h := open(t, f)
	if _, ok, err := h.s.Last(ctxT(t)); err != nil || ok {
		t.Fatalf("Last on an empty log = ok %v, err %v; want false, nil", ok, err)
	}
	checkBounds(t, h.s, 0, 0)
	readAll(t, h.s, 0, nil)
}

func testAppendRead(t *testing.T, f Factory) {
	h := open(t, f)
	want := Records(0, 60)
	appendAll(t, h.s, want[:1], 1)
	appendAll(t, h.s, want[1:], 20)
	checkBounds(t, h.s, 0, 60)
	readAll(t, h.s, 0, want)
}

func testLastAndBounds(t *testing.T, f Factory) {
	h := open(t, f)
	recs := Records(0, 25)
	for i, r := range recs {
		appendAll(t, h.s, []capture.Record{r}, 1)
		checkLast(t, h.s, int64(i), r)
		checkBounds(t, h.s, 0, int64(i+1))
	}
}

func testReadFromMiddle(t *testing.T, f Factory) {
	h := open(t, f)
	want := Records(0, 100)
	appendAll(t, h.s, want, 33)
	for _, from := range []int64{1, 13, 50, 99} {
		readAll(t, h.s, from, want[from:])
	}
	readAll(t, h.s, 100, nil)
	readAll(t, h.s, 150, nil)
}

// testBatchAtomicity: a batch holding a record that cannot be encoded
// fails, leaves at most a prefix of its valid records, each complete, and
// the log accepts appends afterwards.
func testBatchAtomicity(t *testing.T, f Factory) {
	h := open(t, f)
	want := Records(0, 4)
	appendAll(t, h.s, want[:1], 1)
	bad := want[3]
	bad.Kind = 0
	if err := h.s.Append(ctxT(t), want[1], want[2], bad, want[3]); err == nil {
		t.Fatal("Append of a batch holding a record without Kind succeeded")
	}
	_, next, err := h.s.Bounds(ctxT(t))
	if err != nil {
		t.Fatalf("Bounds: %v", err)
	}
	if next < 1 || next > 3 {
		t.Fatalf("after a failed batch the log holds %d records, want 1 to 3 (a prefix)", next)
	}
	readAll(t, h.s, 0, want[:next])

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.s.Append(ctx, Records(next, 3)...); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a canceled context = %v, want context.Canceled", err)
	}
	_, next2, err := h.s.Bounds(ctxT(t))
	if err != nil || next2 < next || next2 > next+3 {
		t.Fatalf("after a canceled Append Bounds next = %d, %v; want %d..%d", next2, err, next, next+3)
	}
	appendAll(t, h.s, Records(next2, 5), 5)
	readAll(t, h.s, 0, Records(0, next2+5))
}

func testReopen(t *testing.T, f Factory) {
	h := open(t, f)
	want := Records(0, 120)
	appendAll(t, h.s, want[:70], 7)
	h.reopen(t, f)
	checkBounds(t, h.s, 0, 70)
	checkLast(t, h.s, 69, want[69])
	readAll(t, h.s, 0, want[:70])
	appendAll(t, h.s, want[70:], 50)
	h.reopen(t, f)
	checkLast(t, h.s, 119, want[119])
	readAll(t, h.s, 0, want)
}

// testFollowTail: a reader at the end of the log sees records appended
// after it returned io.EOF.
func testFollowTail(t *testing.T, f Factory) {
	h := open(t, f)
	want := Records(0, 10)
	r, err := h.s.ReadFrom(ctxT(t), 0)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	defer r.Close()
	if _, err := r.Next(ctxT(t)); err != io.EOF {
		t.Fatalf("Next on an empty log = %v, want io.EOF", err)
	}
	var off int64
	for round, batch := range [][]capture.Record{want[:3], want[3:4], want[4:]} {
		appendAll(t, h.s, batch, len(batch))
		for _, w := range batch {
			got, err := nextWithin(t, r, time.Minute)
			if err != nil {
				t.Fatalf("round %d: Next: %v", round, err)
			}
			checkRecord(t, off, w, got)
			off++
		}
		if _, err := r.Next(ctxT(t)); err != io.EOF {
			t.Fatalf("round %d: Next at the end = %v, want io.EOF", round, err)
		}
	}
}

// nextWithin calls Next until it returns something else than io.EOF, for
// stores whose appends become readable asynchronously.
func nextWithin(t *testing.T, r capture.Reader, limit time.Duration) (capture.Record, error) {
	deadline := time.Now().Add(limit)
	for {
		rec, err := r.Next(ctxT(t))
		if err != io.EOF || time.Now().After(deadline) {
			return rec, err
		}
		time.Sleep(time.Millisecond)
	}
}

// testConcurrent: one goroutine appends in batches of random sizes while
// another follows the log; the reader sees every record once, in order.
func testConcurrent(t *testing.T, f Factory) {
	h := open(t, f)
	const total = 600
	want := Records(0, total)
	r, err := h.s.ReadFrom(ctxT(t), 0)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	var appendErr error
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < total; {
			n := min(1+rng.IntN(17), total-i)
			if appendErr = h.s.Append(ctxT(t), want[i:i+n]...); appendErr != nil {
				return
			}
			i += n
		}
	})
	for i := range int64(total) {
		got, err := nextWithin(t, r, time.Minute)
		if err != nil {
			wg.Wait()
			t.Fatalf("reader at offset %d: %v (append error: %v)", i, err, appendErr)
		}
		checkRecord(t, i, want[i], got)
	}
	wg.Wait()
	if appendErr != nil {
		t.Fatalf("Append: %v", appendErr)
	}
}

// testLargeRecord: a 50 MiB transaction round-trips between small ones.
func testLargeRecord(t *testing.T, f Factory) {
	h := open(t, f)
	big := LargeRecord(7, 50<<20)
	big.After, big.GTID = Record(1).After, Record(1).GTID
	want := []capture.Record{Record(0), big, Record(2)}
	appendAll(t, h.s, want[:1], 1)
	appendAll(t, h.s, want[1:], 2)
	readAll(t, h.s, 0, want)
	checkLast(t, h.s, 2, want[2])
}

func testClosed(t *testing.T, f Factory) {
	h := open(t, f)
	appendAll(t, h.s, Records(0, 3), 3)
	r, err := h.s.ReadFrom(ctxT(t), 0)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	defer r.Close()
	if err := h.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := ctxT(t)
	if err := h.s.Append(ctx, Record(3)); !errors.Is(err, capture.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, _, err := h.s.Last(ctx); !errors.Is(err, capture.ErrClosed) {
		t.Errorf("Last after Close = %v, want ErrClosed", err)
	}
	if _, _, err := h.s.Bounds(ctx); !errors.Is(err, capture.ErrClosed) {
		t.Errorf("Bounds after Close = %v, want ErrClosed", err)
	}
	if _, err := h.s.ReadFrom(ctx, 0); !errors.Is(err, capture.ErrClosed) {
		t.Errorf("ReadFrom after Close = %v, want ErrClosed", err)
	}
	if _, err := r.Next(ctx); !errors.Is(err, capture.ErrClosed) {
		t.Errorf("Next on a reader of a closed store = %v, want ErrClosed", err)
	}
}
