package capture

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrNotRetained is returned by a Reader whose next record was deleted by
// retention while it was reading.
var ErrNotRetained = errors.New("capture record no longer retained")

// DefaultSegmentBytes is the size at which Local starts a new segment.
const DefaultSegmentBytes = 64 << 20

// LocalOptions configures a Local store. The zero value is usable.
type LocalOptions struct {
	// SegmentBytes is the size a segment may reach before the next record
	// goes to a new one (default 64 MiB). A record larger than that gets a
	// segment of its own.
	SegmentBytes int64
	// RetentionBytes deletes the oldest segments while the log is larger
	// (0: no limit). RetentionAge deletes segments whose last append is
	// older (0: no limit). The active segment and the segment holding the
	// last record are never deleted.
	RetentionBytes int64
	RetentionAge   time.Duration
	// Logger receives truncation and retention notices (default
	// slog.Default()).
	Logger *slog.Logger

	// wrapFile lets tests inject write errors into the active segment.
	wrapFile func(*os.File) segmentFile
}

// segmentFile is what Append needs of the active segment.
type segmentFile interface {
	WriteAt(b []byte, off int64) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// Local is a Store kept in a directory of segment files on local disk.
// One process appends (it holds an exclusive flock on dir/LOCK); any number
// of read-only openers may read concurrently, in this process or others.
type Local struct {
	dir      string
	opts     LocalOptions
	log      *slog.Logger
	readOnly bool
	lock     *os.File // writer only

	// wmu serializes Append and Close; it guards broken, active and buf,
	// and is held across writes and fsyncs. mu guards segs and the
	// segments' fields, and closed; the writer changes them holding both,
	// so it reads them holding wmu only. Readers take mu briefly, never
	// waiting for an fsync.
	wmu    sync.Mutex
	broken error       // set when a failed append could not be rolled back
	active segmentFile // the last segment, writer only
	buf    []byte      // frame buffer reused by Append

	mu     sync.Mutex
	closed bool
	segs   []*segment
}

var _ Store = (*Local)(nil)

// OpenLocal opens, or creates, the log in dir for appending. It takes the
// directory's writer lock, checks the segments, and truncates a torn tail
// left by a crash in the last one (logged with the number of bytes cut);
// invalid data anywhere else is an error naming the file and position.
func OpenLocal(dir string, opts LocalOptions) (*Local, error) {
	if opts.SegmentBytes < 0 || opts.RetentionBytes < 0 || opts.RetentionAge < 0 {
		return nil, fmt.Errorf("capture store %s: negative size or age in options", dir)
	}
	if opts.SegmentBytes == 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("capture store %s: create directory: %w", dir, err)
	}
	// A directory entry that is not durable would lose the whole log.
	if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return nil, fmt.Errorf("capture store %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l := &Local{dir: dir, opts: opts, log: opts.Logger, lock: lock}
	if err := l.load(); err != nil {
		_ = lock.Close() // releases the lock; the load error is what matters
		return nil, err
	}
	if err := l.openActive(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	l.applyRetention(time.Now())
	return l, nil
}

// OpenLocalReadOnly opens the log in dir for reading only, without the
// writer lock, while a writer may be appending. Records appended later are
// picked up by Bounds, Last and readers. A partial frame at the end of the
// last segment is taken as the current end of the log.
func OpenLocalReadOnly(dir string) (*Local, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("capture store %s: open read-only: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("capture store %s: open read-only: not a directory", dir)
	}
	l := &Local{dir: dir, readOnly: true, log: slog.Default()}
	l.opts.Logger = l.log
	if err := l.load(); err != nil {
		return nil, err
	}
	return l, nil
}

// load reads the segment list from disk into l.segs.
func (l *Local) load() error {
	bases, err := listSegments(l.dir)
	if err != nil {
		return fmt.Errorf("capture store %s: list segments: %w", l.dir, err)
	}
	l.segs = nil
	for i, base := range bases {
		s, err := l.loadSegment(base, i == len(bases)-1)
		if errors.Is(err, fs.ErrNotExist) && len(l.segs) == 0 && i < len(bases)-1 {
			continue // deleted by the writer's retention since the listing
		}
		if err != nil {
			return err
		}
		if err := l.push(s); err != nil {
			return err
		}
	}
	return nil
}

// push appends s to l.segs after checking it continues the log.
func (l *Local) push(s *segment) error {
	if n := len(l.segs); n > 0 {
		prev := l.segs[n-1]
		if prev.base+prev.count != s.base {
			return fmt.Errorf("%w: capture store %s: segment %s ends at offset %d but the next segment is %s",
				ErrCorrupt, l.dir, prev.name(), prev.base+prev.count, s.name())
		}
	}
	l.segs = append(l.segs, s)
	return nil
}

// loadSegment reads what is known of the segment at base. A closed segment
// (not last) uses its index file when valid, else is scanned, and must be
// valid to its end. The last one is always scanned: a writer truncates an
// invalid tail, a reader stops before it.
func (l *Local) loadSegment(base int64, last bool) (*segment, error) {
	path := filepath.Join(l.dir, segmentName(base))
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture store %s: open segment: %w", l.dir, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("capture store %s: stat segment: %w", l.dir, err)
	}
	if !last {
		if b, err := os.ReadFile(indexPath(l.dir, base)); err == nil {
			if s, err := decodeIndex(b, base, fi.Size()); err == nil {
				s.modTime = fi.ModTime()
				return s, nil
			}
		}
	}
	s := &segment{base: base, modTime: fi.ModTime()}
	if err := l.extend(s, f, fi.Size(), last); err != nil {
		return nil, err
	}
	if !last && !l.readOnly {
		if err := writeIndex(l.dir, s); err != nil {
			l.log.Warn("capture store: cannot write segment index; it will be rebuilt on next open",
				"dir", l.dir, "segment", s.name(), "err", err)
		}
	}
	return s, nil
}

// extend scans s's file from s.size to fileSize. An invalid frame is an
// error in a closed segment; in the last one the writer truncates from
// there and a reader stops there.
func (l *Local) extend(s *segment, f *os.File, fileSize int64, last bool) error {
	bad, err := s.scan(f, fileSize)
	if err != nil {
		return fmt.Errorf("capture store %s: read segment %s: %w", l.dir, s.name(), err)
	}
	switch {
	case bad == nil:
		return nil
	case !last:
		return fmt.Errorf("%w: capture store %s: segment %s, %v (record offset %d): the segment is closed, so this is not a torn tail",
			ErrCorrupt, l.dir, s.name(), bad, s.base+s.count)
	case l.readOnly:
		return nil
	}
	if err := truncateFile(filepath.Join(l.dir, s.name()), s.size); err != nil {
		return fmt.Errorf("capture store %s: truncate torn tail of %s at byte %d: %w", l.dir, s.name(), s.size, err)
	}
	l.log.Warn("capture store: truncated a torn tail left by a crash", "dir", l.dir, "segment", s.name(),
		"at", bad.pos, "reason", bad.reason, "bytes", fileSize-s.size)
	return nil
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close() // the Truncate error matters more
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// refresh brings a read-only store up to date with the files: segments
// deleted by retention, new records in the last segment, new segments.
// Caller holds l.mu.
func (l *Local) refresh() error {
	bases, err := listSegments(l.dir)
	if err != nil {
		return fmt.Errorf("capture store %s: list segments: %w", l.dir, err)
	}
	for len(l.segs) > 0 && (len(bases) == 0 || l.segs[0].base < bases[0]) {
		l.segs = l.segs[1:]
	}
	if len(l.segs) == 0 {
		return l.load()
	}
	tail := l.segs[len(l.segs)-1]
	i := sort.Search(len(bases), func(i int) bool { return bases[i] > tail.base })
	if err := l.extendTail(tail, i == len(bases)); err != nil {
		return err
	}
	for j := i; j < len(bases); j++ {
		s, err := l.loadSegment(bases[j], j == len(bases)-1)
		if err != nil {
			return err
		}
		if err := l.push(s); err != nil {
			return err
		}
	}
	return nil
}

// extendTail reads what was appended to the segment that was the last.
func (l *Local) extendTail(s *segment, last bool) error {
	f, err := os.Open(filepath.Join(l.dir, s.name()))
	if err != nil {
		return fmt.Errorf("capture store %s: open segment: %w", l.dir, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("capture store %s: stat segment: %w", l.dir, err)
	}
	if fi.Size() < s.size {
		return fmt.Errorf("capture store %s: segment %s shrank to %d bytes below the %d already read: the writer rolled back records; reopen the store",
			l.dir, s.name(), fi.Size(), s.size)
	}
	return l.extend(s, f, fi.Size(), last)
}

// check returns why l cannot be used, refreshing a read-only store first.
// Caller holds l.mu.
func (l *Local) check() error {
	if l.closed {
		return ErrClosed
	}
	if l.readOnly {
		return l.refresh()
	}
	return nil
}

// bounds returns the first retained offset and the next one. Caller holds l.mu.
func (l *Local) bounds() (first, next int64) {
	if len(l.segs) == 0 {
		return 0, 0
	}
	last := l.segs[len(l.segs)-1]
	return l.segs[0].base, last.base + last.count
}

// Bounds implements Store.
func (l *Local) Bounds(ctx context.Context) (first, next int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(); err != nil {
		return 0, 0, err
	}
	first, next = l.bounds()
	return first, next, nil
}

// Last implements Store.
func (l *Local) Last(ctx context.Context) (Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(); err != nil {
		return Record{}, false, err
	}
	for i := len(l.segs) - 1; i >= 0; i-- {
		s := l.segs[i]
		if s.count == 0 {
			continue
		}
		path := filepath.Join(l.dir, s.name())
		f, err := os.Open(path)
		if err != nil {
			return Record{}, false, fmt.Errorf("capture store %s: read last record: %w", l.dir, err)
		}
		defer f.Close()
		r, _, err := readFrame(f, path, s.lastPos, s.size)
		r.Offset = s.base + s.count - 1
		return r, err == nil, err
	}
	return Record{}, false, nil
}

// ReadFrom implements Store. An offset below the first retained one reads
// from the first retained one.
func (l *Local) ReadFrom(ctx context.Context, from int64) (Reader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(); err != nil {
		return nil, err
	}
	first, _ := l.bounds()
	return &localReader{l: l, next: max(from, first)}, nil
}

// Close releases the store and its writer lock. Readers return ErrClosed
// afterwards.
func (l *Local) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	if l.active != nil {
		errs = append(errs, l.active.Close())
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("capture store %s: close: %w", l.dir, err)
	}
	return nil
}

// String names the store for logs.
func (l *Local) String() string {
	mode := "local"
	if l.readOnly {
		mode = "local read-only"
	}
	return strings.Join([]string{mode, l.dir}, " ")
}
