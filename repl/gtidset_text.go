package repl

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is the text a server accepts as a replication position. For
// MariaDB (gtid_slave_pos, MASTER_USE_GTID) it is one GTID per domain, the
// highest: "0-1-100,1-2-7"; gaps and starts above 1 are not expressible and
// are dropped. For MySQL it is String.
func (s GTIDSet) Position() string {
	if s.flavor != MariaDB {
		return s.String()
	}
	parts := make([]string, 0, len(s.streams))
	for _, g := range s.Last() {
		parts = append(parts, g.String())
	}
	return strings.Join(parts, ",")
}

// String is the exact text of the set, "" when empty;
// ParseGTIDSet(s.Flavor(), s.String()) gives back an equal set. MySQL sets
// are written with lower-case uuids, untagged intervals first, then tags in
// order: "uuid:1-5:a:1-3:b:7,uuid2:1-9".
func (s GTIDSet) String() string {
	var b strings.Builder
	if s.flavor == MariaDB {
		for i, st := range s.streams {
			if i > 0 {
				b.WriteByte(',')
			}
			var buf [24]byte
			b.Write(strconv.AppendUint(buf[:0], uint64(st.domain), 10))
			b.WriteByte('-')
			b.Write(strconv.AppendUint(buf[:0], uint64(st.server), 10))
			b.WriteByte('-')
			if len(st.iv) == 1 && st.iv[0].lo == 1 {
				b.WriteString(strconv.FormatUint(st.iv[0].hi, 10))
				continue
			}
			b.WriteByte('[')
			writeIntervals(&b, st.iv, ',')
			b.WriteByte(']')
		}
		return b.String()
	}
	for i, st := range s.streams {
		if i == 0 || st.uuid != s.streams[i-1].uuid {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(st.uuid.String())
		}
		if st.tag != "" {
			b.WriteByte(':')
			b.WriteString(st.tag)
		}
		b.WriteByte(':')
		writeIntervals(&b, st.iv, ':')
	}
	return b.String()
}

func writeIntervals(b *strings.Builder, iv intervals, sep byte) {
	for i, r := range iv {
		if i > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(strconv.FormatUint(r.lo, 10))
		if r.hi != r.lo {
			b.WriteByte('-')
			b.WriteString(strconv.FormatUint(r.hi, 10))
		}
	}
}

// MarshalText names the flavor: "mariadb/0-1-5", "mysql/uuid:1-5". The
// zero set (FlavorUnknown) is "".
func (s GTIDSet) MarshalText() ([]byte, error) {
	if s.flavor == FlavorUnknown {
		return []byte{}, nil
	}
	return []byte(s.flavor.String() + "/" + s.String()), nil
}

// UnmarshalText parses the MarshalText form.
func (s *GTIDSet) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = GTIDSet{}
		return nil
	}
	f, rest, ok := strings.Cut(string(b), "/")
	if !ok {
		return fmt.Errorf("%w: %q lacks a flavor/ prefix", ErrBadGTID, b)
	}
	fl, err := ParseFlavor(f)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadGTID, err)
	}
	set, err := ParseGTIDSet(fl, rest)
	if err != nil {
		return err
	}
	*s = set
	return nil
}

// ParseGTIDSet parses a set in the server's text form. Whitespace around
// elements is ignored (MySQL prints gtid_executed with newlines).
//
// MariaDB: "domain-server-seq" entries separated by commas, one per domain,
// meaning sequence numbers 1..seq; and recoup's "domain-server-[a-b,c]" form
// for sets with gaps. A domain may appear only once, as the server requires.
//
// MySQL: "uuid:a-b:c,uuid2:tag:1-3" with 8.4 tags; uuids in any case; empty
// elements are skipped, as the server does. gnos are 1..2^63-1.
func ParseGTIDSet(f Flavor, text string) (GTIDSet, error) {
	s := NewGTIDSet(f)
	var streams []stream
	var err error
	switch f {
	case MariaDB:
		streams, err = parseMariaDBSet(text)
	case MySQL:
		streams, err = parseMySQLSet(text)
	default:
		return GTIDSet{}, fmt.Errorf("%w: parsing %q: unknown flavor", ErrBadGTID, text)
	}
	if err != nil {
		return GTIDSet{}, err
	}
	for _, st := range streams {
		s = s.Union(GTIDSet{flavor: f, streams: []stream{st}})
	}
	return s, nil
}

func parseMariaDBSet(text string) ([]stream, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var out []stream
	seen := map[uint32]bool{}
	for _, part := range splitTopLevel(text) {
		st, err := parseMariaDBElem(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		if seen[st.domain] {
			return nil, fmt.Errorf("%w: domain %d appears twice in %q (a MariaDB position has one GTID per domain)", ErrBadGTID, st.domain, text)
		}
		seen[st.domain] = true
		out = append(out, st)
	}
	return out, nil
}

// parseMariaDBElem parses "d-s-n" (seq 1..n) or "d-s-[a-b,c]".
func parseMariaDBElem(part string) (stream, error) {
	i := strings.IndexByte(part, '[')
	if i < 0 {
		g, err := ParseGTID(MariaDB, part)
		if err != nil {
			return stream{}, err
		}
		return stream{domain: g.Domain, server: g.Server, iv: intervals{{1, g.Seq}}}, nil
	}
	head := strings.Split(part[:i], "-")
	if len(head) != 3 || head[2] != "" || !strings.HasSuffix(part, "]") {
		return stream{}, fmt.Errorf("%w: %q is not domain-server-[ranges]", ErrBadGTID, part)
	}
	d, err1 := parseUint(head[0], 32)
	sv, err2 := parseUint(head[1], 32)
	if err1 != nil || err2 != nil {
		return stream{}, fmt.Errorf("%w: %q: domain and server id must be 32-bit numbers", ErrBadGTID, part)
	}
	iv, err := parseIntervals(strings.Split(part[i+1:len(part)-1], ","), 64)
	if err != nil {
		return stream{}, fmt.Errorf("%w in %q", err, part)
	}
	return stream{domain: uint32(d), server: uint32(sv), iv: iv}, nil
}

// splitTopLevel splits on commas outside brackets.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// parseIntervals parses "a" and "a-b" items (1 <= a <= b < 2^bits).
func parseIntervals(parts []string, bits int) (intervals, error) {
	iv := make([]interval, 0, len(parts))
	for _, p := range parts {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(p), "-")
		a, err := parseUint(strings.TrimSpace(lo), bits)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseUint(strings.TrimSpace(hi), bits); err != nil {
				return nil, err
			}
		}
		if a == 0 || b < a {
			return nil, fmt.Errorf("%w: interval %q must be a-b with 1 <= a <= b", ErrBadGTID, strings.TrimSpace(p))
		}
		iv = append(iv, interval{a, b})
	}
	return normalize(iv), nil
}

func parseMySQLSet(text string) ([]stream, error) {
	var out []stream
	for _, elem := range strings.Split(text, ",") {
		elem = strings.TrimSpace(elem)
		if elem == "" {
			continue // the server skips empty elements, e.g. a trailing comma
		}
		st, err := parseMySQLElem(elem)
		if err != nil {
			return nil, err
		}
		out = append(out, st...)
	}
	return out, nil
}

// parseMySQLElem parses "uuid:1-5:7:tag:1-3:tag2:4": intervals, each tag
// followed by at least one interval of its own.
func parseMySQLElem(elem string) ([]stream, error) {
	parts := strings.Split(elem, ":")
	u, err := ParseUUID(strings.TrimSpace(parts[0]))
	if err != nil {
		return nil, err
	}
	if len(parts) < 2 {
		return nil, fmt.Errorf("%w: %q has no interval", ErrBadGTID, elem)
	}
	var out []stream
	tag, start := "", 1
	flush := func(end int) error {
		if end == start {
			return fmt.Errorf("%w: %q: no interval after %q", ErrBadGTID, elem, strings.TrimSpace(parts[start-1]))
		}
		iv, err := parseIntervals(parts[start:end], 63)
		if err != nil {
			return fmt.Errorf("%w in %q", err, elem)
		}
		out = append(out, stream{uuid: u, tag: tag, iv: iv})
		return nil
	}
	for i := 1; i < len(parts); i++ {
		p := strings.TrimSpace(parts[i])
		if p == "" || (p[0] >= '0' && p[0] <= '9') {
			continue // an interval; parseIntervals rejects an empty one
		}
		if i > 1 {
			if err := flush(i); err != nil {
				return nil, err
			}
		}
		if tag, err = parseTag(p); err != nil {
			return nil, fmt.Errorf("%w in %q", err, elem)
		}
		start = i + 1
	}
	if err := flush(len(parts)); err != nil {
		return nil, err
	}
	return out, nil
}
