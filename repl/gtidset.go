package repl

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// GTIDSet is an immutable set of GTIDs of one flavor. Every method returns
// a new set and leaves its receiver and arguments unchanged. It cannot be
// compared with ==: use Equal.
//
// MariaDB: the set keeps, per replication domain, the sequence numbers it
// holds and the server id of its highest one. Membership ignores server ids:
// with gtid_strict_mode a sequence number is unique within its domain, so
// 0-1-5 and 0-2-5 are the same transaction slot. This is what go-mysql's
// MariadbGTIDSet gets wrong after a failover (it keys on server id). String
// gives one GTID per domain ("0-1-100,1-2-7") when each domain holds 1..n,
// which is exactly a server position; a domain with gaps or a start above 1
// (a loss set, after Subtract) is written "0-1-[51-100]" instead, and
// Position always gives the server-acceptable form.
//
// MySQL: uuid:interval sets, with 8.4 tags: "uuid:1-5:tag:1-3".
type GTIDSet struct {
	flavor  Flavor
	streams []stream // sorted by key; none empty
}

type stream struct {
	domain uint32 // MariaDB
	server uint32 // MariaDB: server id of the highest sequence number
	uuid   UUID   // MySQL
	tag    string // MySQL
	iv     intervals
}

func (s stream) less(o stream) bool {
	if s.domain != o.domain {
		return s.domain < o.domain
	}
	if c := bytes.Compare(s.uuid[:], o.uuid[:]); c != 0 {
		return c < 0
	}
	return s.tag < o.tag
}

func (s stream) sameKey(o stream) bool {
	return s.domain == o.domain && s.uuid == o.uuid && s.tag == o.tag
}

// NewGTIDSet returns an empty set of the given flavor.
func NewGTIDSet(f Flavor) GTIDSet { return GTIDSet{flavor: f} }

// GTIDSetOf returns the set holding exactly the given GTIDs, all of flavor f.
func GTIDSetOf(f Flavor, gtids ...GTID) (GTIDSet, error) {
	s := NewGTIDSet(f)
	for _, g := range gtids {
		var err error
		if s, err = s.Add(g); err != nil {
			return GTIDSet{}, err
		}
	}
	return s, nil
}

func (s GTIDSet) Flavor() Flavor { return s.flavor }
func (s GTIDSet) IsEmpty() bool  { return len(s.streams) == 0 }

// Count is the number of GTIDs in the set.
func (s GTIDSet) Count() uint64 {
	var n uint64
	for _, st := range s.streams {
		n += st.iv.count()
	}
	return n
}

func streamOf(g GTID) stream {
	return stream{domain: g.Domain, server: g.Server, uuid: g.UUID, tag: g.Tag, iv: intervals{{g.Seq, g.Seq}}}
}

// Contains reports whether g is in the set. A GTID of another flavor is not.
func (s GTIDSet) Contains(g GTID) bool {
	if g.Flavor != s.flavor {
		return false
	}
	key := streamOf(g)
	for _, st := range s.streams {
		if st.sameKey(key) {
			return st.iv.contains(g.Seq)
		}
	}
	return false
}

// Add returns s with g added.
func (s GTIDSet) Add(g GTID) (GTIDSet, error) {
	if g.Flavor != s.flavor {
		return GTIDSet{}, fmt.Errorf("%w: cannot add %s GTID %s to a %s set", ErrBadGTID, g.Flavor, g, s.flavor)
	}
	if g.Seq == 0 {
		return GTIDSet{}, fmt.Errorf("%w: sequence number 0 in %s", ErrBadGTID, g)
	}
	return s.Union(GTIDSet{flavor: s.flavor, streams: []stream{streamOf(g)}}), nil
}

// combine merges the streams of s and o key by key. Streams are sorted, so
// this is a merge join; f decides the result for each key (a or b may be nil).
func (s GTIDSet) combine(o GTIDSet, f func(a, b *stream) (stream, bool)) GTIDSet {
	out := GTIDSet{flavor: s.flavor}
	i, j := 0, 0
	for i < len(s.streams) || j < len(o.streams) {
		var a, b *stream
		switch {
		case j >= len(o.streams) || (i < len(s.streams) && s.streams[i].less(o.streams[j])):
			a = &s.streams[i]
			i++
		case i >= len(s.streams) || o.streams[j].less(s.streams[i]):
			b = &o.streams[j]
			j++
		default:
			a, b = &s.streams[i], &o.streams[j]
			i++
			j++
		}
		if r, ok := f(a, b); ok && len(r.iv) > 0 {
			out.streams = append(out.streams, r)
		}
	}
	return out
}

func (s GTIDSet) mustMatch(o GTIDSet) {
	if s.flavor != o.flavor && !o.IsEmpty() && !s.IsEmpty() {
		panic(fmt.Sprintf("repl: GTID set flavors differ: %s and %s", s.flavor, o.flavor))
	}
}

// Union returns every GTID in s or o. Sets of different flavors panic: a
// cluster has one flavor, and mixing them is a programming error.
func (s GTIDSet) Union(o GTIDSet) GTIDSet {
	s.mustMatch(o)
	if s.flavor == FlavorUnknown {
		s.flavor = o.flavor
	}
	return s.combine(o, func(a, b *stream) (stream, bool) {
		switch {
		case a == nil:
			return *b, true
		case b == nil:
			return *a, true
		}
		r := *a
		r.iv = a.iv.union(b.iv)
		if b.iv.max() > a.iv.max() {
			r.server = b.server
		}
		return r, true
	})
}

// Subtract returns the GTIDs of s that are not in o: the loss set is
// captured.Subtract(newMasterExecuted).
func (s GTIDSet) Subtract(o GTIDSet) GTIDSet {
	s.mustMatch(o)
	return s.combine(o, func(a, b *stream) (stream, bool) {
		switch {
		case a == nil:
			return stream{}, false
		case b == nil:
			return *a, true
		}
		r := *a
		r.iv = a.iv.subtract(b.iv)
		return r, true
	})
}

// Subset reports whether every GTID of s is in o.
func (s GTIDSet) Subset(o GTIDSet) bool {
	if s.IsEmpty() {
		return true
	}
	if s.flavor != o.flavor {
		return false
	}
	return s.Subtract(o).IsEmpty()
}

// Equal reports whether s and o hold the same GTIDs. For MariaDB the server
// id of each domain's highest GTID must match too, since it is part of the
// position's text.
func (s GTIDSet) Equal(o GTIDSet) bool {
	if s.IsEmpty() && o.IsEmpty() {
		return true
	}
	if s.flavor != o.flavor || len(s.streams) != len(o.streams) {
		return false
	}
	for i := range s.streams {
		a, b := s.streams[i], o.streams[i]
		if !a.sameKey(b) || a.server != b.server || !a.iv.equal(b.iv) {
			return false
		}
	}
	return true
}

// Last returns, for MariaDB, the highest GTID of each domain; for MySQL, the
// highest GTID of each uuid and tag.
func (s GTIDSet) Last() []GTID {
	out := make([]GTID, 0, len(s.streams))
	for _, st := range s.streams {
		out = append(out, GTID{Flavor: s.flavor, Domain: st.domain, Server: st.server, UUID: st.uuid, Tag: st.tag, Seq: st.iv.max()})
	}
	return out
}

// Position is the text a server accepts as a replication position. For
// MariaDB (gtid_slave_pos, MASTER_USE_GTID) it is one GTID per domain, the
// highest: "0-1-100,1-2-7". For MySQL it is String.
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

// String is the exact text of the set; ParseGTIDSet(s.Flavor(), s.String())
// gives back an equal set.
func (s GTIDSet) String() string {
	var b strings.Builder
	if s.flavor == MariaDB {
		for i, st := range s.streams {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d-%d-", st.domain, st.server)
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

// MarshalText names the flavor: "mariadb/0-1-5", "mysql/uuid:1-5".
func (s GTIDSet) MarshalText() ([]byte, error) {
	return []byte(s.flavor.String() + "/" + s.String()), nil
}

// UnmarshalText parses the MarshalText form.
func (s *GTIDSet) UnmarshalText(b []byte) error {
	f, rest, ok := strings.Cut(string(b), "/")
	if !ok {
		return fmt.Errorf("%w: %q lacks a flavor/ prefix", ErrBadGTID, b)
	}
	fl, err := ParseFlavor(f)
	if err != nil {
		return err
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
// MySQL: "uuid:a-b:c,uuid2:tag:1-3" with 8.4 tags.
func ParseGTIDSet(f Flavor, text string) (GTIDSet, error) {
	s := NewGTIDSet(f)
	text = strings.TrimSpace(text)
	if text == "" {
		return s, nil
	}
	var streams []stream
	var err error
	switch f {
	case MariaDB:
		streams, err = parseMariaDBSet(text)
	case MySQL:
		streams, err = parseMySQLSet(text)
	default:
		return s, fmt.Errorf("%w: unknown flavor", ErrBadGTID)
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
	var out []stream
	seen := map[uint32]bool{}
	for _, part := range splitTopLevel(text) {
		part = strings.TrimSpace(part)
		var st stream
		if i := strings.IndexByte(part, '['); i >= 0 {
			head := strings.Split(strings.TrimSuffix(part[:i], "-"), "-")
			if len(head) != 2 || !strings.HasSuffix(part, "]") || !strings.HasSuffix(part[:i], "-") {
				return nil, fmt.Errorf("%w: %q is not domain-server-[ranges]", ErrBadGTID, part)
			}
			d, err1 := parseUint(head[0], 32)
			sv, err2 := parseUint(head[1], 32)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%w: %q", ErrBadGTID, part)
			}
			iv, err := parseIntervals(strings.Split(part[i+1:len(part)-1], ","), 64)
			if err != nil {
				return nil, fmt.Errorf("%w in %q", err, part)
			}
			st = stream{domain: uint32(d), server: uint32(sv), iv: iv}
		} else {
			g, err := ParseGTID(MariaDB, part)
			if err != nil {
				return nil, err
			}
			st = stream{domain: g.Domain, server: g.Server, iv: intervals{{1, g.Seq}}}
		}
		if seen[st.domain] {
			return nil, fmt.Errorf("%w: domain %d appears twice in %q (a MariaDB position has one GTID per domain)", ErrBadGTID, st.domain, text)
		}
		seen[st.domain] = true
		out = append(out, st)
	}
	return out, nil
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

func parseIntervals(parts []string, bits int) (intervals, error) {
	var iv []interval
	for _, p := range parts {
		p = strings.TrimSpace(p)
		lo, hi, isRange := strings.Cut(p, "-")
		a, err := parseUint(lo, bits)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseUint(hi, bits); err != nil {
				return nil, err
			}
		}
		if a == 0 || b < a {
			return nil, fmt.Errorf("%w: interval %q", ErrBadGTID, p)
		}
		iv = append(iv, interval{a, b})
	}
	return normalize(iv), nil
}

func parseMySQLSet(text string) ([]stream, error) {
	var out []stream
	for _, sidset := range strings.Split(text, ",") {
		sidset = strings.TrimSpace(sidset)
		if sidset == "" {
			continue // MySQL tolerates empty elements, e.g. a trailing comma
		}
		parts := strings.Split(sidset, ":")
		u, err := ParseUUID(strings.TrimSpace(parts[0]))
		if err != nil {
			return nil, err
		}
		if len(parts) < 2 {
			return nil, fmt.Errorf("%w: %q has no interval", ErrBadGTID, sidset)
		}
		tag := ""
		var pending []string
		flush := func() error {
			if len(pending) == 0 {
				return nil
			}
			iv, err := parseIntervals(pending, 63)
			if err != nil {
				return fmt.Errorf("%w in %q", err, sidset)
			}
			out = append(out, stream{uuid: u, tag: tag, iv: iv})
			pending = nil
			return nil
		}
		for _, p := range parts[1:] {
			p = strings.TrimSpace(p)
			if p != "" && (p[0] < '0' || p[0] > '9') {
				if err := flush(); err != nil {
					return nil, err
				}
				if tag, err = parseTag(p); err != nil {
					return nil, err
				}
				continue
			}
			pending = append(pending, p)
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sortStreams is used by tests to check that combine keeps the order.
func sortStreams(s []stream) {
	sort.Slice(s, func(i, j int) bool { return s[i].less(s[j]) })
}
