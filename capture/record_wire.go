package capture

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Field encoding and decoding shared by records and their nested values.

// endNested prefixes the payload written in place from start to b's end
// with its length: the payload moves right by the prefix's size. Callers
// write the payload straight into b (no closure, no scratch buffer):
//
//	start := len(b)
//	b = appendX(b, ...)
//	b = endNested(b, start)
func endNested(b []byte, start int) []byte {
	n := len(b) - start
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(n))
	b = append(b, hdr[:h]...)
	copy(b[start+h:], b[start:start+n])
	copy(b[start:], hdr[:h])
	return b
}

func appendStringField(b []byte, tag uint64, s string) []byte {
	if s == "" {
		return b
	}
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendUintField(b []byte, tag, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(uvarintLen(v)))
	return binary.AppendUvarint(b, v)
}

// varintLen is the size of v in binary.AppendVarint's encoding.
func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}

func appendIntField(b []byte, tag uint64, v int64) []byte {
	if v == 0 {
		return b
	}
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(varintLen(v)))
	return binary.AppendVarint(b, v)
}

func appendIntsField(b []byte, tag uint64, v []int) []byte {
	if len(v) == 0 {
		return b
	}
	b = binary.AppendUvarint(b, tag)
	start := len(b)
	b = binary.AppendUvarint(b, uint64(len(v)))
	for _, x := range v {
		b = binary.AppendVarint(b, int64(x))
	}
	return endNested(b, start)
}

// walkFields calls fn for each field of b in order; base is b's position
// in the enclosing buffer, for error messages. Errors wrap ErrCorrupt.
func walkFields(b []byte, base int, fn func(tag uint64, p []byte) error) error {
	var last uint64
	for i := 0; i < len(b); {
		tag, n := binary.Uvarint(b[i:])
		if n <= 0 {
			return fmt.Errorf("%w: bad field tag at byte %d", ErrCorrupt, base+i)
		}
		if tag <= last {
			return fmt.Errorf("%w: field tag %d at byte %d follows tag %d (tags must increase)", ErrCorrupt, tag, base+i, last)
		}
		size, m := binary.Uvarint(b[i+n:])
		if m <= 0 {
			return fmt.Errorf("%w: bad length of field %d at byte %d", ErrCorrupt, tag, base+i)
		}
		start := i + n + m
		if size > uint64(len(b)-start) {
			return fmt.Errorf("%w: field %d at byte %d claims %d bytes, %d remain", ErrCorrupt, tag, base+i, size, len(b)-start)
		}
		end := start + int(size)
		if err := fn(tag, b[start:end:end]); err != nil {
			return fmt.Errorf("field %d at byte %d: %w", tag, base+i, err)
		}
		last, i = tag, end
	}
	return nil
}

// fieldReader consumes a payload; every error wraps ErrCorrupt.
type fieldReader struct {
	b   []byte
	off int
}

func (d *fieldReader) uvarint(what string, max uint64) (uint64, error) {
	return d.uvarintOf(what, "", max)
}

// uvarintOf reads a uvarint <= max; what and part name it in errors only,
// so that the common path builds no string.
func (d *fieldReader) uvarintOf(what, part string, max uint64) (uint64, error) {
	v, n := binary.Uvarint(d.b[d.off:])
	if n > 0 && v <= max {
		d.off += n
		return v, nil
	}
	if part != "" {
		what += " " + part
	}
	if n <= 0 {
		return 0, fmt.Errorf("%w: %s: bad varint at byte %d", ErrCorrupt, what, d.off)
	}
	return 0, fmt.Errorf("%w: %s %d exceeds %d", ErrCorrupt, what, v, max)
}

func (d *fieldReader) bytes(what string, n uint64) ([]byte, error) {
	if n > uint64(len(d.b)-d.off) {
		return nil, fmt.Errorf("%w: %s of %d bytes at byte %d: only %d remain", ErrCorrupt, what, n, d.off, len(d.b)-d.off)
	}
	end := d.off + int(n)
	p := d.b[d.off:end:end]
	d.off = end
	return p, nil
}

// lenBytes reads a uvarint length and that many bytes.
func (d *fieldReader) lenBytes(what string) ([]byte, error) {
	n, err := d.uvarintOf(what, "length", math.MaxInt32)
	if err != nil {
		return nil, err
	}
	return d.bytes(what, n)
}

func (d *fieldReader) done(what string) error {
	if d.off != len(d.b) {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrCorrupt, what, len(d.b)-d.off)
	}
	return nil
}

// count reads an element count: each element takes at least minSize bytes,
// so a count the remaining bytes cannot hold is rejected before allocating.
func (d *fieldReader) count(what string, minSize int) (int, error) {
	n, err := d.uvarintOf(what, "count", uint64(len(d.b)-d.off)/uint64(minSize))
	return int(n), err
}

func uintPayload(p []byte, max uint64) (uint64, error) {
	d := fieldReader{b: p}
	v, err := d.uvarint("integer", max)
	if err != nil {
		return 0, err
	}
	return v, d.done("integer")
}

// decodeList reads a count and that many length-prefixed elements.
func decodeList(p []byte, what string, fn func(i int, elem []byte) error) error {
	d := fieldReader{b: p}
	n, err := d.count(what, 1)
	if err != nil {
		return err
	}
	for i := range n {
		elem, err := d.lenBytes(what)
		if err != nil {
			return err
		}
		if err := fn(i, elem); err != nil {
			return fmt.Errorf("%s %d: %w", what, i, err)
		}
	}
	return d.done(what + " list")
}

func decodeInts(p []byte) ([]int, error) {
	d := fieldReader{b: p}
	n, err := d.count("integer", 1)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, d.done("integer list")
	}
	out := make([]int, n)
	for i := range out {
		v, m := binary.Varint(p[d.off:])
		if m <= 0 {
			return nil, fmt.Errorf("%w: bad varint at byte %d", ErrCorrupt, d.off)
		}
		out[i] = int(v)
		d.off += m
	}
	return out, d.done("integer list")
}

func intPayload(p []byte) (int, error) {
	v, n := binary.Varint(p)
	if n <= 0 || n != len(p) {
		return 0, fmt.Errorf("%w: bad signed integer of %d bytes", ErrCorrupt, len(p))
	}
	return int(v), nil
}
