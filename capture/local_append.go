package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// openActive opens the last segment for appending, creating the first
// segment of an empty log.
func (l *Local) openActive() error {
	if len(l.segs) == 0 {
		f, err := l.createSegment(0)
		if err != nil {
			return fmt.Errorf("capture store %s: %w", l.dir, err)
		}
		l.active = f
		l.segs = []*segment{{base: 0, modTime: time.Now()}}
		return nil
	}
	s := l.segs[len(l.segs)-1]
	f, err := os.OpenFile(filepath.Join(l.dir, s.name()), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("capture store %s: open active segment: %w", l.dir, err)
	}
	l.active = l.wrap(f)
	return nil
}

func (l *Local) wrap(f *os.File) segmentFile {
	if l.opts.wrapFile != nil {
		return l.opts.wrapFile(f)
	}
	return f
}

func (l *Local) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// createSegment creates the empty segment file for base and makes its
// directory entry durable.
func (l *Local) createSegment(base int64) (segmentFile, error) {
	path := filepath.Join(l.dir, segmentName(base))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		_ = f.Close()       // the sync error is what matters
		_ = os.Remove(path) // an entry that is not durable is not used
		return nil, fmt.Errorf("create segment: %w", err)
	}
	return l.wrap(f), nil
}

// appendError describes a failed append: what failed on which segment, and
// how many of the batch's records were appended all the same.
func (l *Local) appendError(what, segment string, total, appended int, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("capture store %s: disk full while appending %d records to %s (%s failed; %d of them appended): %w",
			l.dir, total, segment, what, appended, err)
	}
	return fmt.Errorf("capture store %s: %s failed while appending %d records to %s (%d of them appended): %w",
		l.dir, what, total, segment, appended, err)
}

// Append implements Store. All records are encoded first, so a record that
// cannot be encoded appends nothing. Then the frames go to the active
// segment in one write and one fsync (two or more when the batch crosses
// a segment roll; each segment is fsynced before the next is created).
func (l *Local) Append(ctx context.Context, recs ...Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("capture store %s: append: %w", l.dir, err)
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	switch {
	case l.isClosed():
		return ErrClosed
	case l.readOnly:
		return fmt.Errorf("capture store %s: append: opened read-only", l.dir)
	case l.broken != nil:
		return fmt.Errorf("capture store %s: append refused after a failed rollback, reopen the store: %w", l.dir, l.broken)
	case len(recs) == 0:
		return nil
	}
	ends, err := l.encodeFrames(recs)
	if err != nil {
		return fmt.Errorf("capture store %s: append: %w", l.dir, err)
	}
	err = l.writeFrames(ends)
	if cap(l.buf) > 16<<20 {
		l.buf = nil // do not keep a huge transaction's buffer
	}
	l.applyRetention(time.Now())
	return err
}

// encodeFrames fills l.buf with one frame per record and returns where
// each frame ends.
func (l *Local) encodeFrames(recs []Record) ([]int, error) {
	buf := l.buf[:0]
	ends := make([]int, len(recs))
	for i, r := range recs {
		start := len(buf)
		buf = append(buf, make([]byte, frameHeaderSize)...)
		var err error
		if buf, err = appendRecord(buf, r); err != nil {
			return nil, fmt.Errorf("record %d of %d: %w", i+1, len(recs), err)
		}
		n := len(buf) - start - frameHeaderSize
		if n > maxFrameBytes {
			return nil, fmt.Errorf("record %d of %d: %d bytes encoded exceed the %d-byte limit", i+1, len(recs), n, maxFrameBytes)
		}
		hdr := buf[start : start+frameHeaderSize]
		binary.LittleEndian.PutUint32(hdr, uint32(n))
		binary.LittleEndian.PutUint32(hdr[4:], frameCRC(hdr, buf[start+frameHeaderSize:]))
		ends[i] = len(buf)
	}
	l.buf = buf
	return ends, nil
}

// writeFrames writes the frames of l.buf to the log, rolling segments as
// they fill.
func (l *Local) writeFrames(ends []int) error {
	first, chunk := 0, 0 // first frame and first byte not yet written
	for i, end := range ends {
		begin := 0
		if i > 0 {
			begin = ends[i-1]
		}
		s := l.segs[len(l.segs)-1]
		pending := int64(begin - chunk)
		if s.size+pending == 0 || s.size+pending+int64(end-begin) <= l.opts.SegmentBytes {
			continue
		}
		if i > first {
			if err := l.commit(ends[first:i], chunk, first, len(ends)); err != nil {
				return err
			}
		}
		if err := l.roll(); err != nil {
			return l.appendError("segment roll", filepath.Join(l.dir, segmentName(s.base+s.count)), len(ends), i, err)
		}
		first, chunk = i, begin
	}
	return l.commit(ends[first:], chunk, first, len(ends))
}

// commit writes the frames ending at ends (positions in l.buf, the first
// starting at chunk) to the active segment and fsyncs it. done and total
// count the batch's records, for the error message. On a failed write it
// keeps the complete frames that reached the file when it can make them
// durable, and truncates the rest, so the segment only holds whole frames.
func (l *Local) commit(ends []int, chunk, done, total int) error {
	s := l.segs[len(l.segs)-1]
	data := l.buf[chunk:ends[len(ends)-1]]
	written, err := l.active.WriteAt(data, s.size)
	what := "write"
	if err == nil {
		what = "fsync"
		if err = l.active.Sync(); err != nil {
			written = 0 // nothing of this write is known durable
		}
	}
	kept := 0
	for kept < len(ends) && ends[kept]-chunk <= written {
		kept++
	}
	if err != nil {
		kept = l.rollback(s, ends, chunk, kept)
	}
	l.mu.Lock()
	start, prev := s.size, chunk
	for _, end := range ends[:kept] {
		s.add(start+int64(prev-chunk), int64(end-prev))
		prev = end
	}
	s.modTime = time.Now()
	l.mu.Unlock()
	if err == nil {
		return nil
	}
	return l.appendError(what, filepath.Join(l.dir, s.name()), total, done+kept, err)
}

// rollback truncates the active segment after the first kept frames of a
// failed write and makes that durable; failing that, it truncates every
// frame of the write and returns 0. A failed fsync of that last truncation
// is left to the next append's fsync, which covers it. If the truncation
// itself fails, stale frames could outlive later appends, so the store
// refuses further appends.
func (l *Local) rollback(s *segment, ends []int, chunk, kept int) int {
	keepBytes := 0
	if kept > 0 {
		keepBytes = ends[kept-1] - chunk
	}
	if l.active.Truncate(s.size+int64(keepBytes)) == nil && l.active.Sync() == nil {
		return kept
	}
	if err := l.active.Truncate(s.size); err != nil {
		l.broken = fmt.Errorf("truncate segment %s back to %d bytes: %w", s.name(), s.size, err)
	}
	return 0
}

// roll closes the active segment, whose frames are all fsynced, and starts
// the next one.
func (l *Local) roll() error {
	s := l.segs[len(l.segs)-1]
	next := &segment{base: s.base + s.count, modTime: time.Now()}
	f, err := l.createSegment(next.base)
	if err != nil {
		return err
	}
	if err := l.active.Close(); err != nil {
		l.log.Warn("capture store: closing a full segment failed", "dir", l.dir, "segment", s.name(), "err", err)
	}
	l.active = f
	l.mu.Lock()
	l.segs = append(l.segs, next)
	l.mu.Unlock()
	if err := writeIndex(l.dir, s); err != nil {
		l.log.Warn("capture store: cannot write segment index; it will be rebuilt on next open",
			"dir", l.dir, "segment", s.name(), "err", err)
	}
	return nil
}

// applyRetention deletes the oldest segments beyond RetentionBytes or
// RetentionAge; never the active segment, nor the one holding the last
// record. Segments leave l.segs before their files go, so a reader finds
// them not retained rather than missing. Failures are logged: the records
// were appended all the same, and the next open retries.
func (l *Local) applyRetention(now time.Time) {
	if l.opts.RetentionBytes == 0 && l.opts.RetentionAge == 0 {
		return
	}
	var total int64
	lastFull := 0
	for i, s := range l.segs {
		total += s.size
		if s.count > 0 {
			lastFull = i
		}
	}
	deleted := 0
	for ; deleted < lastFull && deleted < len(l.segs)-1; deleted++ {
		s := l.segs[deleted]
		overSize := l.opts.RetentionBytes > 0 && total > l.opts.RetentionBytes
		tooOld := l.opts.RetentionAge > 0 && now.Sub(s.modTime) > l.opts.RetentionAge
		if !overSize && !tooOld {
			break
		}
		total -= s.size
	}
	if deleted == 0 {
		return
	}
	gone := l.segs[:deleted]
	l.mu.Lock()
	l.segs = l.segs[deleted:]
	l.mu.Unlock()
	for _, s := range gone {
		if err := os.Remove(filepath.Join(l.dir, s.name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.log.Warn("capture store: retention cannot delete a segment", "dir", l.dir, "segment", s.name(), "err", err)
			continue
		}
		_ = os.Remove(indexPath(l.dir, s.base)) // an index without its segment is never read
		l.log.Info("capture store: retention deleted a segment", "dir", l.dir, "segment", s.name(),
			"records", s.count, "bytes", s.size)
	}
	if err := syncDir(l.dir); err != nil {
		l.log.Warn("capture store: fsync of the directory after retention failed", "dir", l.dir, "err", err)
	}
}
