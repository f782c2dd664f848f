package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// ErrCorrupt is wrapped by every error about bytes that are not a valid
// record or frame: truncation, garbage, a checksum mismatch.
var ErrCorrupt = errors.New("corrupt capture data")

// The record format, version 1:
//
//	magic "RCPR" | version u8 | fields length u32 LE | field* | crc32c u32 LE
//	field = tag uvarint | length uvarint | payload (length bytes)
//
// The checksum (Castagnoli) covers everything before it, so a record is
// self-checking whatever carries it. Tags strictly increase, so every field
// appears at most once and the encoding of a Record is canonical.
// Zero-valued fields are omitted. A decoder skips tags it does not know: a
// later writer adds fields under new tags and keeps the version; the
// version changes only when a version 1 reader could no longer read a
// record correctly. Integers are uvarints (zigzag varints when signed);
// strings and byte slices are raw bytes.
const (
	recordMagic   = "RCPR"
	recordVersion = 1
	recordHeader  = len(recordMagic) + 1 + 4
	recordTrailer = 4
)

// Field tags of a record. Append only; never reuse a number.
const (
	tagKind       = 1  // uvarint, required, 1..255
	tagCluster    = 2  // string
	tagMaster     = 3  // string
	tagAfter      = 4  // GTIDSet.MarshalText: "mariadb/0-1-5"
	tagGTID       = 5  // flavor byte, then MariaDB: domain, server, seq; MySQL: uuid[16], tag len+bytes, gno
	tagServerID   = 6  // uvarint <= 2^32-1
	tagCommitTime = 7  // zigzag unix seconds, uvarint nanoseconds
	tagStart      = 8  // uvarint pos, then the file name as the rest of the payload
	tagEnd        = 9  // as tagStart
	tagFormatDesc = 10 // raw bytes
	tagEvents     = 11 // uvarint count, then count times (uvarint length, raw bytes)
	tagTables     = 12 // uvarint count, then count times (uvarint length, table fields): see record_table.go
	tagFrom       = 13 // string
	tagTo         = 14 // string
	tagFlags      = 15 // uvarint bit set: flagConnected, flagFailed
	tagMasterPos  = 16 // as tagAfter
)

const (
	flagConnected = 1 << iota
	flagFailed
	flagsKnown = flagConnected | flagFailed
)

// EncodeRecord returns the binary form of r. Offset is not encoded: it is
// the record's position in a store, not part of its content. It fails on a
// record it could not decode back: no Kind, or a GTID or GTID set without a
// flavor.
func EncodeRecord(r Record) ([]byte, error) {
	return appendRecord(make([]byte, 0, encodedSizeHint(r)), r)
}

// encodedSizeHint is an upper bound of the encoded size for the bulky
// fields plus some room for the small ones, so that appendRecord does not
// grow its buffer on the common path.
func encodedSizeHint(r Record) int {
	n := 256 + len(r.Cluster) + len(r.Master) + len(r.From) + len(r.To) + len(r.FormatDesc) + len(r.Start.File) + len(r.End.File)
	for _, e := range r.Events {
		n += binary.MaxVarintLen32 + len(e)
	}
	return n + 256*len(r.Tables)
}

// recordFlags is r's tagFlags bit set.
func recordFlags(r Record) uint64 {
	var flags uint64
	if r.Connected {
		flags |= flagConnected
	}
	if r.Failed {
		flags |= flagFailed
	}
	return flags
}

// appendRecord appends the binary form of r to dst.
func appendRecord(dst []byte, r Record) ([]byte, error) {
	if r.Kind == 0 {
		return dst, errors.New("encode capture record: Kind is not set")
	}
	if err := validGTID(r.GTID); err != nil {
		return dst, fmt.Errorf("encode capture record: %w", err)
	}
	if !r.CommitTime.IsZero() && (r.CommitTime.Unix() < minUnixSeconds || r.CommitTime.Unix() > maxUnixSeconds) {
		return dst, fmt.Errorf("encode capture record: commit time %s is outside years 1 to 9999", r.CommitTime)
	}
	if r.After.Flavor() == repl.FlavorUnknown && !r.After.IsEmpty() {
		return dst, errors.New("encode capture record: After has no flavor")
	}
	start := len(dst)
	e := recordEncoder{b: append(append(dst, recordMagic...), recordVersion, 0, 0, 0, 0)}
	e.uintField(tagKind, uint64(r.Kind))
	e.stringField(tagCluster, r.Cluster)
	e.stringField(tagMaster, r.Master)
	if r.After.Flavor() != repl.FlavorUnknown {
		text, err := r.After.MarshalText()
		if err != nil {
			return dst, fmt.Errorf("encode capture record: After: %w", err)
		}
		e.bytesField(tagAfter, text)
	}
	if !r.GTID.IsZero() {
		e.bytesField(tagGTID, appendGTID(e.scratch[:0], r.GTID))
	}
	e.uintField(tagServerID, uint64(r.ServerID))
	if !r.CommitTime.IsZero() {
		t := binary.AppendVarint(e.scratch[:0], r.CommitTime.Unix())
		e.bytesField(tagCommitTime, binary.AppendUvarint(t, uint64(r.CommitTime.Nanosecond())))
	}
	e.posField(tagStart, r.Start)
	e.posField(tagEnd, r.End)
	e.bytesField(tagFormatDesc, r.FormatDesc)
	e.eventsField(r.Events)
	if len(r.Tables) > 0 {
		e.b = binary.AppendUvarint(e.b, tagTables)
		start := len(e.b)
		e.b = appendTables(e.b, r.Tables)
		e.b = endNested(e.b, start)
	}
	e.stringField(tagFrom, r.From)
	e.stringField(tagTo, r.To)
	e.uintField(tagFlags, recordFlags(r))
	if !r.MasterPos.IsEmpty() {
		text, err := r.MasterPos.MarshalText()
		if err != nil {
			return dst, fmt.Errorf("encode capture record: MasterPos: %w", err)
		}
		e.bytesField(tagMasterPos, text)
	}
	fields := len(e.b) - start - recordHeader
	if fields > math.MaxUint32-recordHeader-recordTrailer {
		return dst, fmt.Errorf("encode capture record: %d bytes is too large", fields)
	}
	binary.LittleEndian.PutUint32(e.b[start+recordHeader-4:], uint32(fields))
	return binary.LittleEndian.AppendUint32(e.b, crc32.Checksum(e.b[start:], castagnoli)), nil
}

// recordEncoder appends fields; scratch is reused for small nested payloads.
type recordEncoder struct {
	b       []byte
	scratch [64]byte
}

func (e *recordEncoder) bytesField(tag uint64, p []byte) {
	if len(p) == 0 {
		return
	}
	e.b = binary.AppendUvarint(e.b, tag)
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}

func (e *recordEncoder) stringField(tag uint64, s string) {
	if s == "" {
		return
	}
	e.b = binary.AppendUvarint(e.b, tag)
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *recordEncoder) uintField(tag, v uint64) {
	if v == 0 {
		return
	}
	e.bytesField(tag, binary.AppendUvarint(e.scratch[:0], v))
}

func (e *recordEncoder) posField(tag uint64, p repl.BinlogPos) {
	if p == (repl.BinlogPos{}) {
		return
	}
	head := binary.AppendUvarint(e.scratch[:0], uint64(p.Pos))
	e.b = binary.AppendUvarint(e.b, tag)
	e.b = binary.AppendUvarint(e.b, uint64(len(head)+len(p.File)))
	e.b = append(append(e.b, head...), p.File...)
}

// eventsField writes the events straight into the record buffer: they are
// the bulk of a record and are copied exactly once.
func (e *recordEncoder) eventsField(events [][]byte) {
	if len(events) == 0 {
		return
	}
	n := uvarintLen(uint64(len(events)))
	for _, ev := range events {
		n += uvarintLen(uint64(len(ev))) + len(ev)
	}
	e.b = binary.AppendUvarint(e.b, tagEvents)
	e.b = binary.AppendUvarint(e.b, uint64(n))
	e.b = binary.AppendUvarint(e.b, uint64(len(events)))
	for _, ev := range events {
		e.b = binary.AppendUvarint(e.b, uint64(len(ev)))
		e.b = append(e.b, ev...)
	}
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendGTID(b []byte, g repl.GTID) []byte {
	b = append(b, byte(g.Flavor))
	if g.Flavor == repl.MariaDB {
		b = binary.AppendUvarint(b, uint64(g.Domain))
		b = binary.AppendUvarint(b, uint64(g.Server))
		return binary.AppendUvarint(b, g.Seq)
	}
	b = append(b, g.UUID[:]...)
	b = binary.AppendUvarint(b, uint64(len(g.Tag)))
	b = append(b, g.Tag...)
	return binary.AppendUvarint(b, g.Seq)
}

// validGTID accepts the zero GTID and GTIDs the record format can hold
// exactly: a known flavor, seq >= 1, and no field of the other flavor.
func validGTID(g repl.GTID) error {
	if g.IsZero() {
		return nil
	}
	switch g.Flavor {
	case repl.MariaDB:
		if g.UUID != (repl.UUID{}) || g.Tag != "" {
			return fmt.Errorf("MariaDB GTID %s has a MySQL uuid or tag", g)
		}
	case repl.MySQL:
		if g.Domain != 0 || g.Server != 0 {
			return fmt.Errorf("MySQL GTID %s has a MariaDB domain or server", g)
		}
		if g.Seq > math.MaxInt64 {
			return fmt.Errorf("MySQL GTID %s: gno above 2^63-1", g)
		}
		if g.Tag != "" {
			if _, err := repl.ParseGTID(repl.MySQL, g.String()); err != nil {
				return fmt.Errorf("MySQL GTID tag %q: %w", g.Tag, err)
			}
		}
	default:
		return fmt.Errorf("GTID %+v has no flavor", g)
	}
	if g.Seq == 0 {
		return fmt.Errorf("GTID %s has sequence number 0", g)
	}
	return nil
}

// DecodeRecord parses a record written by EncodeRecord. Every error wraps
// ErrCorrupt. The returned record's FormatDesc and Events alias b (each
// capped to its own bytes): b must not be modified while they are in use.
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	if len(b) < recordHeader+recordTrailer {
		return r, fmt.Errorf("%w: record of %d bytes is shorter than its %d-byte header and trailer", ErrCorrupt, len(b), recordHeader+recordTrailer)
	}
	if string(b[:len(recordMagic)]) != recordMagic {
		return r, fmt.Errorf("%w: record starts with %q, not the magic %q", ErrCorrupt, b[:len(recordMagic)], recordMagic)
	}
	if v := b[len(recordMagic)]; v != recordVersion {
		return r, fmt.Errorf("%w: record format version %d is not supported (this build reads version %d)", ErrCorrupt, v, recordVersion)
	}
	want := uint64(binary.LittleEndian.Uint32(b[recordHeader-4:])) + uint64(recordHeader+recordTrailer)
	if uint64(len(b)) != want {
		return r, fmt.Errorf("%w: record of %d bytes, its header says %d", ErrCorrupt, len(b), want)
	}
	end := len(b) - recordTrailer
	if crc32.Checksum(b[:end], castagnoli) != binary.LittleEndian.Uint32(b[end:]) {
		return r, fmt.Errorf("%w: record checksum mismatch", ErrCorrupt)
	}
	err := walkFields(b[recordHeader:end], recordHeader, func(tag uint64, p []byte) error {
		return r.decodeField(tag, p)
	})
	if err != nil {
		return Record{}, fmt.Errorf("decode capture record: %w", err)
	}
	if r.Kind == 0 {
		return Record{}, fmt.Errorf("%w: decode capture record: no kind field", ErrCorrupt)
	}
	return r, nil
}

func (r *Record) decodeField(tag uint64, p []byte) error {
	var err error
	switch tag {
	case tagKind:
		var k uint64
		k, err = uintPayload(p, math.MaxUint8)
		if err == nil && k == 0 {
			err = fmt.Errorf("%w: kind 0", ErrCorrupt)
		}
		r.Kind = Kind(k)
	case tagCluster:
		r.Cluster = string(p)
	case tagMaster:
		r.Master = string(p)
	case tagAfter:
		if uerr := r.After.UnmarshalText(p); uerr != nil {
			err = fmt.Errorf("%w: GTID set: %w", ErrCorrupt, uerr)
		}
	case tagGTID:
		r.GTID, err = decodeGTID(p)
	case tagServerID:
		var v uint64
		v, err = uintPayload(p, math.MaxUint32)
		r.ServerID = uint32(v)
	case tagCommitTime:
		r.CommitTime, err = decodeTime(p)
	case tagStart:
		r.Start, err = decodePos(p)
	case tagEnd:
		r.End, err = decodePos(p)
	case tagFormatDesc:
		r.FormatDesc = p
	case tagEvents:
		r.Events, err = decodeEvents(p)
	case tagTables:
		r.Tables, err = decodeTables(p)
	case tagFrom:
		r.From = string(p)
	case tagTo:
		r.To = string(p)
	case tagMasterPos:
		if uerr := r.MasterPos.UnmarshalText(p); uerr != nil {
			err = fmt.Errorf("%w: master position: %w", ErrCorrupt, uerr)
		}
	case tagFlags:
		var f uint64
		f, err = uintPayload(p, flagsKnown)
		r.Connected, r.Failed = f&flagConnected != 0, f&flagFailed != 0
		if err == nil && f&^flagsKnown != 0 {
			err = fmt.Errorf("%w: unknown flag bits %#x", ErrCorrupt, f&^flagsKnown)
		}
	}
	return err // unknown tags: skipped
}

func decodeGTID(p []byte) (repl.GTID, error) {
	d := fieldReader{b: p}
	if len(p) == 0 {
		return repl.GTID{}, fmt.Errorf("%w: empty GTID", ErrCorrupt)
	}
	g := repl.GTID{Flavor: repl.Flavor(p[0])}
	d.off = 1
	var err error
	var v [3]uint64
	switch g.Flavor {
	case repl.MariaDB:
		for i, max := range []uint64{math.MaxUint32, math.MaxUint32, math.MaxUint64} {
			if v[i], err = d.uvarint("GTID field", max); err != nil {
				return repl.GTID{}, err
			}
		}
		g.Domain, g.Server, g.Seq = uint32(v[0]), uint32(v[1]), v[2]
	case repl.MySQL:
		u, err := d.bytes("GTID uuid", 16)
		if err != nil {
			return repl.GTID{}, err
		}
		copy(g.UUID[:], u)
		tag, err := d.lenBytes("GTID tag")
		if err != nil {
			return repl.GTID{}, err
		}
		g.Tag = string(tag)
		if g.Seq, err = d.uvarint("GTID gno", math.MaxInt64); err != nil {
			return repl.GTID{}, err
		}
	default:
		return repl.GTID{}, fmt.Errorf("%w: GTID flavor %d", ErrCorrupt, p[0])
	}
	if err := d.done("GTID"); err != nil {
		return repl.GTID{}, err
	}
	if err := validGTID(g); err != nil {
		return repl.GTID{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return g, nil
}

// The commit time range the format accepts: years 1 to 9999, where
// time.Unix round-trips exactly.
const (
	minUnixSeconds = -62135596800
	maxUnixSeconds = 253402300799
)

func decodeTime(p []byte) (time.Time, error) {
	secs, n := binary.Varint(p)
	if n <= 0 {
		return time.Time{}, fmt.Errorf("%w: commit time seconds", ErrCorrupt)
	}
	if secs < minUnixSeconds || secs > maxUnixSeconds {
		return time.Time{}, fmt.Errorf("%w: commit time %d s is outside years 1 to 9999", ErrCorrupt, secs)
	}
	d := fieldReader{b: p, off: n}
	nanos, err := d.uvarint("commit time nanoseconds", 999_999_999)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(secs, int64(nanos)).UTC(), d.done("commit time")
}

func decodePos(p []byte) (repl.BinlogPos, error) {
	d := fieldReader{b: p}
	pos, err := d.uvarint("binlog position", math.MaxUint32)
	if err != nil {
		return repl.BinlogPos{}, err
	}
	return repl.BinlogPos{Pos: uint32(pos), File: string(p[d.off:])}, nil
}

func decodeEvents(p []byte) ([][]byte, error) {
	d := fieldReader{b: p}
	n, err := d.count("event", 1)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, d.done("events")
	}
	events := make([][]byte, n)
	for i := range events {
		if events[i], err = d.lenBytes("event"); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return events, d.done("events")
}
