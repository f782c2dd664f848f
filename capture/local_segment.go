package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A segment file is a sequence of frames:
//
//	length u32 LE | crc32c u32 LE | payload (length bytes, EncodeRecord's output)
//
// The checksum covers the length bytes and the payload. A segment is named
// after the offset of its first record, as 20 decimal digits, so names sort
// in log order.
const (
	frameHeaderSize = 8
	maxFrameBytes   = 1 << 30 // a record above 1 GiB is refused
	indexEvery      = 32      // one sparse index entry every indexEvery records
	segmentSuffix   = ".log"
	indexSuffix     = ".idx"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameCRC is the checksum of a frame whose header is hdr.
func frameCRC(hdr, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(hdr[:4], castagnoli), castagnoli, payload)
}

// indexEntry maps a record offset to the file position of its frame.
type indexEntry struct{ off, pos int64 }

// segment is what is known of one segment file: its complete, checksummed
// frames. Only the writer (or, read-only, refresh) changes it, holding
// Local.mu; index only grows by append, so a copy of the slice stays valid.
type segment struct {
	base    int64 // offset of the first record
	count   int64 // complete records
	size    int64 // bytes of complete frames
	lastPos int64 // position of the last frame, when count > 0
	index   []indexEntry
	modTime time.Time // of the last append, for RetentionAge
}

func segmentName(base int64) string { return fmt.Sprintf("%020d%s", base, segmentSuffix) }

func (s *segment) name() string { return segmentName(s.base) }

// add records a frame of n bytes at pos.
func (s *segment) add(pos, n int64) {
	if s.count%indexEvery == 0 {
		s.index = append(s.index, indexEntry{off: s.base + s.count, pos: pos})
	}
	s.lastPos, s.count, s.size = pos, s.count+1, pos+n
}

// seekIndex returns the index entry at or before offset off.
func seekIndex(index []indexEntry, off int64) indexEntry {
	i, found := slices.BinarySearchFunc(index, off, func(e indexEntry, off int64) int {
		return int(min(max(e.off-off, -1), 1))
	})
	if !found {
		i--
	}
	return index[max(i, 0)]
}

// frameError says where and why a scan stopped before the end of a file.
type frameError struct {
	pos    int64
	reason string
}

func (e *frameError) Error() string { return fmt.Sprintf("byte %d: %s", e.pos, e.reason) }

// scan extends s with the valid frames of f from s.size on. It returns a
// frameError when it stops at a short or invalid frame, nil at a clean end
// of file, and an error when f cannot be read.
func (s *segment) scan(f *os.File, fileSize int64) (*frameError, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, s.size, fileSize-s.size), 1<<20)
	sum := crc32.New(castagnoli)
	var hdr [frameHeaderSize]byte
	for pos := s.size; pos < fileSize; {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return &frameError{pos, fmt.Sprintf("frame header cut short after %d bytes", fileSize-pos)}, nil
			}
			return nil, err
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:4]))
		if n < int64(recordHeader) || n > maxFrameBytes {
			return &frameError{pos, fmt.Sprintf("invalid frame length %d", n)}, nil
		}
		if pos+frameHeaderSize+n > fileSize {
			return &frameError{pos, fmt.Sprintf("frame of %d bytes cut short at %d bytes", n, fileSize-pos-frameHeaderSize)}, nil
		}
		sum.Reset()
		sum.Write(hdr[:4])
		if _, err := io.CopyN(sum, br, n); err != nil {
			return nil, err
		}
		if sum.Sum32() != binary.LittleEndian.Uint32(hdr[4:]) {
			return &frameError{pos, fmt.Sprintf("checksum mismatch in frame of %d bytes", n)}, nil
		}
		s.add(pos, frameHeaderSize+n)
		pos += frameHeaderSize + n
	}
	return nil, nil
}

// listSegments returns the base offsets of dir's segment files, sorted.
func listSegments(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentSuffix)
		if !ok || len(name) != 20 {
			continue
		}
		base, err := strconv.ParseInt(name, 10, 64)
		if err != nil || segmentName(base) != e.Name() {
			continue
		}
		bases = append(bases, base)
	}
	slices.Sort(bases)
	return bases, nil
}

// The index file of a closed segment, written when the writer rolls to the
// next one. It only saves a scan: when missing or invalid it is rebuilt.
//
//	"RCIX" | version u8 | base, count, size, lastPos u64 | n u32 |
//	n times (off u64, pos u64) | crc32c u32 of everything before
const (
	indexMagic   = "RCIX"
	indexVersion = 1
	indexHead    = len(indexMagic) + 1 + 4*8 + 4
)

func encodeIndex(s *segment) []byte {
	b := append([]byte(indexMagic), indexVersion)
	for _, v := range []int64{s.base, s.count, s.size, s.lastPos} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.index)))
	for _, e := range s.index {
		b = binary.LittleEndian.AppendUint64(b, uint64(e.off))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.pos))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeIndex parses an index file of the segment at base whose file now
// has fileSize bytes; it fails on anything that does not match exactly.
func decodeIndex(b []byte, base, fileSize int64) (*segment, error) {
	if len(b) < indexHead+4 || string(b[:4]) != indexMagic || b[4] != indexVersion {
		return nil, errors.New("not a version 1 index file")
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, errors.New("index checksum mismatch")
	}
	u := func(i int) int64 { return int64(binary.LittleEndian.Uint64(b[5+8*i:])) }
	s := &segment{base: u(0), count: u(1), size: u(2), lastPos: u(3)}
	n := int64(binary.LittleEndian.Uint32(b[indexHead-4:]))
	switch {
	case s.base != base || s.size != fileSize || s.count < 0:
		return nil, fmt.Errorf("index describes segment %d of %d bytes, the file is segment %d of %d bytes", s.base, s.size, base, fileSize)
	case int64(len(body)) != int64(indexHead)+16*n || n != (s.count+indexEvery-1)/indexEvery:
		return nil, errors.New("index entry count does not match")
	case s.count == 0 && s.size != 0, s.count > 0 && (s.lastPos < 0 || s.lastPos >= s.size):
		return nil, errors.New("index sizes do not match")
	}
	prev := int64(-1)
	for i := range n {
		p := body[int64(indexHead)+16*i:]
		e := indexEntry{off: int64(binary.LittleEndian.Uint64(p)), pos: int64(binary.LittleEndian.Uint64(p[8:]))}
		if e.off != base+i*indexEvery || e.pos <= prev || e.pos > s.lastPos || (i == 0 && e.pos != 0) {
			return nil, fmt.Errorf("index entry %d is invalid", i)
		}
		s.index, prev = append(s.index, e), e.pos
	}
	return s, nil
}

func indexPath(dir string, base int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, indexSuffix))
}

// writeIndex stores s's index next to it. It is not fsynced: a torn index
// fails its checksum and is rebuilt.
func writeIndex(dir string, s *segment) error {
	tmp := indexPath(dir, s.base) + ".tmp"
	if err := os.WriteFile(tmp, encodeIndex(s), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, indexPath(dir, s.base))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close() // the Sync error matters more
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return d.Close()
}
