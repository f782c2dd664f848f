package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// segmentView is a copy of what a reader needs of one segment.
type segmentView struct {
	base  int64
	size  int64 // bytes of complete, committed frames
	index []indexEntry
	path  string
}

// locate returns the segment holding offset off, io.EOF when off is at or
// past the end of the log, or ErrNotRetained when retention deleted it.
func (l *Local) locate(off int64) (segmentView, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return segmentView{}, ErrClosed
	}
	first, next := l.bounds()
	if l.readOnly && off >= next {
		if err := l.refresh(); err != nil {
			return segmentView{}, err
		}
		first, next = l.bounds()
	}
	if off >= next {
		return segmentView{}, io.EOF
	}
	if off < first {
		return segmentView{}, fmt.Errorf("capture store %s: offset %d: %w (the log now starts at %d)", l.dir, off, ErrNotRetained, first)
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base+l.segs[i].count > off })
	s := l.segs[i]
	return segmentView{base: s.base, size: s.size, index: s.index, path: filepath.Join(l.dir, s.name())}, nil
}

// localReader reads a Local log in order, holding one segment file open.
type localReader struct {
	l      *Local
	next   int64 // offset of the record Next returns
	f      *os.File
	base   int64 // base offset of the segment f is open on
	pos    int64 // position of record next's frame in f
	closed bool
}

// Next implements Reader.
func (r *localReader) Next(ctx context.Context) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if r.closed {
		return Record{}, fmt.Errorf("capture reader: %w", ErrClosed)
	}
	for retry := 0; ; retry++ {
		v, err := r.l.locate(r.next)
		if err != nil {
			if err != io.EOF {
				r.closeFile()
			}
			return Record{}, err // io.EOF unwrapped, as callers compare it with ==
		}
		if r.f == nil || r.base != v.base {
			err = r.open(v)
			if errors.Is(err, fs.ErrNotExist) && retry == 0 {
				continue // deleted by retention meanwhile: locate says so
			}
			if err != nil {
				return Record{}, err
			}
		}
		rec, n, err := readFrame(r.f, v.path, r.pos, v.size)
		if err != nil {
			return Record{}, err
		}
		rec.Offset = r.next
		r.next++
		r.pos += n
		return rec, nil
	}
}

// open opens v's file and finds the frame of record r.next: the sparse
// index gives a nearby frame, then headers are skipped one by one.
func (r *localReader) open(v segmentView) error {
	r.closeFile()
	f, err := os.Open(v.path)
	if err != nil {
		return fmt.Errorf("capture store %s: open segment: %w", r.l.dir, err)
	}
	e := seekIndex(v.index, r.next)
	pos := e.pos
	var hdr [frameHeaderSize]byte
	for off := e.off; off < r.next; off++ {
		if _, err := f.ReadAt(hdr[:], pos); err != nil {
			_ = f.Close() // the read error is what matters
			return fmt.Errorf("%w: capture store: segment %s at byte %d: frame header of record %d: %v", ErrCorrupt, v.path, pos, off, err)
		}
		pos += frameHeaderSize + int64(binary.LittleEndian.Uint32(hdr[:4]))
		if pos > v.size {
			_ = f.Close()
			return fmt.Errorf("%w: capture store: segment %s: frame of record %d runs past the %d committed bytes", ErrCorrupt, v.path, off, v.size)
		}
	}
	r.f, r.base, r.pos = f, v.base, pos
	return nil
}

func (r *localReader) closeFile() {
	if r.f != nil {
		_ = r.f.Close() // read-only file: nothing to lose
		r.f = nil
	}
}

// Close implements Reader.
func (r *localReader) Close() error {
	r.closeFile()
	r.closed = true
	return nil
}

// readFrame reads and decodes the frame at pos of f, whose committed
// frames end at limit. It returns the record and the frame's size. The
// payload is a fresh buffer, so the record's byte slices are the caller's.
func readFrame(f *os.File, path string, pos, limit int64) (Record, int64, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: capture store: segment %s at byte %d: %s", ErrCorrupt, path, pos, fmt.Sprintf(format, args...))
	}
	var hdr [frameHeaderSize]byte
	if pos+frameHeaderSize > limit {
		return Record{}, 0, corrupt("frame header past the %d committed bytes", limit)
	}
	if _, err := f.ReadAt(hdr[:], pos); err != nil {
		return Record{}, 0, corrupt("read frame header: %v", err)
	}
	n := int64(binary.LittleEndian.Uint32(hdr[:4]))
	if n < int64(recordHeader) || pos+frameHeaderSize+n > limit {
		return Record{}, 0, corrupt("frame length %d invalid or past the %d committed bytes", n, limit)
	}
	payload := make([]byte, n)
	if _, err := f.ReadAt(payload, pos+frameHeaderSize); err != nil {
		return Record{}, 0, corrupt("read %d-byte frame: %v", n, err)
	}
	if frameCRC(hdr[:], payload) != binary.LittleEndian.Uint32(hdr[4:]) {
		return Record{}, 0, corrupt("checksum mismatch in %d-byte frame", n)
	}
	rec, err := DecodeRecord(payload)
	if err != nil {
		return Record{}, 0, fmt.Errorf("capture store: segment %s at byte %d: %w", path, pos, err)
	}
	return rec, frameHeaderSize + n, nil
}
