package capture_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
	"github.com/recoup-dev/recoup/test/logtest"
)

// logBuffer collects a store's log lines for assertions.
type logBuffer = logtest.Buffer

func openLocal(t testing.TB, dir string, opts capture.LocalOptions) *capture.Local {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = (&logBuffer{}).Logger()
	}
	l, err := capture.OpenLocal(dir, opts)
	if err != nil {
		t.Fatalf("OpenLocal(%s): %v", dir, err)
	}
	return l
}

func localFactory(opts capture.LocalOptions) storetest.Factory {
	return storetest.Factory{
		New: func(t *testing.T) capture.Store { return openLocal(t, t.TempDir(), opts) },
		Reopen: func(t *testing.T, s capture.Store) capture.Store {
			l := s.(*capture.Local)
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return openLocal(t, l.Dir(), opts)
		},
	}
}

func TestLocalContract(t *testing.T) {
	t.Run("DefaultSegments", func(t *testing.T) { storetest.Run(t, localFactory(capture.LocalOptions{})) })
	t.Run("SmallSegments", func(t *testing.T) {
		storetest.Run(t, localFactory(capture.LocalOptions{SegmentBytes: 16 << 10}))
	})
	t.Run("ReadOnlyReaders", func(t *testing.T) { storetest.Run(t, splitFactory()) })
}

// split appends through a writer and reads through a read-only opener of
// the same directory, as another process would.
type split struct {
	w *capture.Local
	r *capture.Local
}

func (s split) Append(ctx context.Context, recs ...capture.Record) error {
	return s.w.Append(ctx, recs...)
}
func (s split) Last(ctx context.Context) (capture.Record, bool, error) { return s.r.Last(ctx) }
func (s split) Bounds(ctx context.Context) (int64, int64, error)       { return s.r.Bounds(ctx) }
func (s split) ReadFrom(ctx context.Context, from int64) (capture.Reader, error) {
	return s.r.ReadFrom(ctx, from)
}
func (s split) Close() error { return errors.Join(s.w.Close(), s.r.Close()) }

func splitFactory() storetest.Factory {
	open := func(t *testing.T, dir string) capture.Store {
		w := openLocal(t, dir, capture.LocalOptions{SegmentBytes: 16 << 10})
		r, err := capture.OpenLocalReadOnly(dir)
		if err != nil {
			t.Fatalf("OpenLocalReadOnly: %v", err)
		}
		return split{w: w, r: r}
	}
	return storetest.Factory{
		New: func(t *testing.T) capture.Store { return open(t, t.TempDir()) },
		Reopen: func(t *testing.T, s capture.Store) capture.Store {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return open(t, s.(split).w.Dir())
		},
	}
}

func appendRecords(t testing.TB, s capture.Store, recs []capture.Record, batch int) {
	t.Helper()
	for i := 0; i < len(recs); i += batch {
		if err := s.Append(context.Background(), recs[i:min(i+batch, len(recs))]...); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

// checkLog reads the whole log and compares it with Records(first, next-first).
func checkLog(t testing.TB, s capture.Store, first, next int64) {
	t.Helper()
	ctx := context.Background()
	f, n, err := s.Bounds(ctx)
	if err != nil || f != first || n != next {
		t.Fatalf("Bounds = %d, %d, %v; want %d, %d", f, n, err, first, next)
	}
	r, err := s.ReadFrom(ctx, 0)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	defer r.Close()
	for off := first; off < next; off++ {
		got, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("Next at %d: %v", off, err)
		}
		if d := storetest.Diff(storetest.Record(off), got); d != "" || got.Offset != off {
			t.Fatalf("record at %d (Offset %d) differs: %s", off, got.Offset, d)
		}
	}
	if _, err := r.Next(ctx); err != io.EOF {
		t.Fatalf("Next at the end = %v, want io.EOF", err)
	}
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func appendBytes(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// validFrame returns the frame bytes Local writes for rec, read back from
// a scratch store.
func validFrame(t testing.TB, rec capture.Record) []byte {
	t.Helper()
	dir := t.TempDir()
	l := openLocal(t, dir, capture.LocalOptions{})
	appendRecords(t, l, []capture.Record{rec}, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(segmentFiles(t, dir)[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLocalTornTail(t *testing.T) {
	frame := validFrame(t, storetest.Record(10))
	badCRC := bytes.Clone(frame)
	badCRC[5] ^= 0xff
	tests := map[string][]byte{
		"short header":   frame[:3],
		"short payload":  frame[:len(frame)-1],
		"bad checksum":   badCRC,
		"zeros":          make([]byte, 4096),
		"huge length":    {0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5},
		"frame and half": append(bytes.Clone(badCRC), frame[:20]...),
	}
	for name, tail := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLocal(t, dir, capture.LocalOptions{})
			appendRecords(t, l, storetest.Records(0, 10), 4)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			seg := segmentFiles(t, dir)[0]
			before, _ := os.Stat(seg)
			appendBytes(t, seg, tail)

			var logs logBuffer
			l = openLocal(t, dir, capture.LocalOptions{Logger: logs.Logger()})
			defer l.Close()
			if !strings.Contains(logs.String(), "torn tail") || !strings.Contains(logs.String(), fmt.Sprintf("bytes=%d", len(tail))) {
				t.Fatalf("no warning with bytes=%d in the log: %q", len(tail), logs.String())
			}
			if after, _ := os.Stat(seg); after.Size() != before.Size() {
				t.Fatalf("segment is %d bytes after recovery, want %d", after.Size(), before.Size())
			}
			checkLog(t, l, 0, 10)
			appendRecords(t, l, storetest.Records(10, 1), 1)
			checkLog(t, l, 0, 11)
		})
	}
}

// corruptByte flips a byte in the middle of the first segment's second frame.
func corruptFirstSegment(t *testing.T, dir string) string {
	t.Helper()
	seg := segmentFiles(t, dir)[0]
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x55
	if err := os.WriteFile(seg, b, 0o640); err != nil {
		t.Fatal(err)
	}
	return seg
}

func TestLocalCorruptClosedSegment(t *testing.T) {
	build := func(t *testing.T) string {
		dir := t.TempDir()
		l := openLocal(t, dir, capture.LocalOptions{SegmentBytes: 8 << 10})
		appendRecords(t, l, storetest.Records(0, 100), 10)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if n := len(segmentFiles(t, dir)); n < 3 {
			t.Fatalf("%d segments, want 3 or more", n)
		}
		return dir
	}
	t.Run("found on open without an index", func(t *testing.T) {
		dir := build(t)
		seg := corruptFirstSegment(t, dir)
		if err := os.Remove(strings.TrimSuffix(seg, ".log") + ".idx"); err != nil {
			t.Fatal(err)
		}
		_, err := capture.OpenLocal(dir, capture.LocalOptions{})
		if !errors.Is(err, capture.ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(seg)) || !strings.Contains(err.Error(), "byte ") {
			t.Fatalf("OpenLocal = %v; want ErrCorrupt naming %s and a byte position", err, filepath.Base(seg))
		}
	})
	t.Run("found on read with an index", func(t *testing.T) {
		dir := build(t)
		seg := corruptFirstSegment(t, dir)
		l := openLocal(t, dir, capture.LocalOptions{})
		defer l.Close()
		r, err := l.ReadFrom(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for {
			_, err := r.Next(context.Background())
			if err == nil {
				continue
			}
			if !errors.Is(err, capture.ErrCorrupt) || !strings.Contains(err.Error(), seg) || !strings.Contains(err.Error(), "at byte") {
				t.Fatalf("Next = %v; want ErrCorrupt naming %s and a byte position", err, seg)
			}
			return
		}
	})
}

func TestLocalIndexRebuilt(t *testing.T) {
	dir := t.TempDir()
	l := openLocal(t, dir, capture.LocalOptions{SegmentBytes: 32 << 10})
	appendRecords(t, l, storetest.Records(0, 300), 25)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	idx, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
	if len(idx) < 2 {
		t.Fatalf("%d index files, want one per closed segment", len(idx))
	}
	if err := os.Remove(idx[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idx[1], []byte("garbage"), 0o640); err != nil {
		t.Fatal(err)
	}
	l = openLocal(t, dir, capture.LocalOptions{SegmentBytes: 32 << 10})
	defer l.Close()
	checkLog(t, l, 0, 300)
	for _, from := range []int64{0, 31, 32, 33, 95, 150, 299} {
		r, err := l.ReadFrom(context.Background(), from)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Next(context.Background())
		r.Close()
		if err != nil || got.Offset != from || storetest.Diff(storetest.Record(from), got) != "" {
			t.Fatalf("ReadFrom(%d).Next = offset %d, %v", from, got.Offset, err)
		}
	}
}

func TestLocalRetention(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		dir := t.TempDir()
		l := openLocal(t, dir, capture.LocalOptions{SegmentBytes: 8 << 10, RetentionBytes: 32 << 10})
		defer l.Close()
		r, err := l.ReadFrom(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		appendRecords(t, l, storetest.Records(0, 10), 10)
		if _, err := r.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
		appendRecords(t, l, storetest.Records(10, 390), 13)
		first, _, _ := l.Bounds(context.Background())
		if first == 0 || len(segmentFiles(t, dir)) > 6 {
			t.Fatalf("first offset %d with %d segments: retention deleted nothing", first, len(segmentFiles(t, dir)))
		}
		checkLog(t, l, first, 400)
		// The reader was in a deleted segment: it reports the gap instead
		// of skipping it.
		for {
			_, err := r.Next(context.Background())
			if err == nil {
				continue
			}
			if !errors.Is(err, capture.ErrNotRetained) {
				t.Fatalf("reader past deleted segments: %v, want ErrNotRetained", err)
			}
			break
		}
	})
	t.Run("age", func(t *testing.T) {
		dir := t.TempDir()
		opts := capture.LocalOptions{SegmentBytes: 8 << 10, RetentionAge: time.Hour}
		l := openLocal(t, dir, opts)
		appendRecords(t, l, storetest.Records(0, 100), 10)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		segs := segmentFiles(t, dir)
		old := time.Now().Add(-2 * time.Hour)
		for _, s := range segs[:len(segs)-1] {
			if err := os.Chtimes(s, old, old); err != nil {
				t.Fatal(err)
			}
		}
		l = openLocal(t, dir, opts)
		defer l.Close()
		if n := len(segmentFiles(t, dir)); n != 1 {
			t.Fatalf("%d segments left, want only the active one", n)
		}
		first, _, _ := l.Bounds(context.Background())
		checkLog(t, l, first, 100)
	})
}

func TestLocalLock(t *testing.T) {
	dir := t.TempDir()
	l := openLocal(t, dir, capture.LocalOptions{})
	_, err := capture.OpenLocal(dir, capture.LocalOptions{})
	if !errors.Is(err, capture.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second OpenLocal = %v; want ErrLocked naming pid %d", err, os.Getpid())
	}
	ro, err := capture.OpenLocalReadOnly(dir)
	if err != nil {
		t.Fatalf("OpenLocalReadOnly beside a writer: %v", err)
	}
	if err := ro.Append(context.Background(), storetest.Record(0)); err == nil {
		t.Fatal("Append on a read-only store succeeded")
	}
	ro.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	openLocal(t, dir, capture.LocalOptions{}).Close()
}

// TestLocalReadOnlyPartialTail: a read-only opener takes a frame still
// being written for the end of the log, then reads it once complete.
func TestLocalReadOnlyPartialTail(t *testing.T) {
	dir := t.TempDir()
	l := openLocal(t, dir, capture.LocalOptions{})
	appendRecords(t, l, storetest.Records(0, 5), 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := capture.OpenLocalReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	r, err := ro.ReadFrom(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range 5 {
		if _, err := r.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	frame := validFrame(t, storetest.Record(5))
	seg := segmentFiles(t, dir)[0]
	for _, part := range [][]byte{frame[:4], frame[4:30], frame[30 : len(frame)-1]} {
		appendBytes(t, seg, part)
		if _, err := r.Next(context.Background()); err != io.EOF {
			t.Fatalf("Next with a partial last frame = %v, want io.EOF", err)
		}
	}
	appendBytes(t, seg, frame[len(frame)-1:])
	got, err := r.Next(context.Background())
	if err != nil || got.Offset != 5 || storetest.Diff(storetest.Record(5), got) != "" {
		t.Fatalf("Next after the frame completed = offset %d, %v", got.Offset, err)
	}
}
