package repl

import (
	"bytes"
	"fmt"
	"iter"
	"sort"
)

// GTIDSet is an immutable set of GTIDs of one flavor. Every method returns
// a new set and leaves its receiver and arguments unchanged. It cannot be
// compared with ==: use Equal. The zero value is an empty set of
// FlavorUnknown, which takes the flavor of the first GTID or set added.
//
// MariaDB: the set keeps, per replication domain, the sequence numbers it
// holds and the server id of its highest one. Membership ignores server ids:
// with gtid_strict_mode a sequence number is unique within its domain, so
// 0-1-5 and 0-2-5 are the same transaction slot. This is what go-mysql's
// MariadbGTIDSet gets wrong after a failover (it keys on server id). String
// gives one GTID per domain ("0-1-100,1-2-7") when each domain holds 1..n,
// which is exactly a server position; a domain with gaps or a start above 1
// (a loss set, after Subtract) is written "0-1-[51-100]" instead, and
// Position always gives the server-acceptable form. The set remembers one
// server id per domain only: after Subtract or Intersect removes a domain's
// highest GTID, the domain keeps the server id it had.
//
// MySQL: uuid:interval sets, with 8.4 tags: "uuid:1-5:tag:1-3".
//
// An empty set has no flavor conflicts: it is the identity of Union and
// equal to every other empty set. Combining two non-empty sets of different
// flavors panics, since a cluster has one flavor and mixing them is a
// programming error.
type GTIDSet struct {
	flavor  Flavor
	streams []stream // sorted by key; none empty
}

// stream is the sequence numbers of one key: a MariaDB domain, or a MySQL
// uuid and tag.
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

// streamOf is the one-GTID stream of g, which check accepted.
func streamOf(g GTID) stream {
	return stream{domain: g.Domain, server: g.Server, uuid: g.UUID, tag: g.Tag, iv: intervals{{g.Seq, g.Seq}}}
}

// NewGTIDSet returns an empty set of the given flavor.
func NewGTIDSet(f Flavor) GTIDSet { return GTIDSet{flavor: f} }

// GTIDSetOf returns the set holding exactly the given GTIDs, all of flavor f.
func GTIDSetOf(f Flavor, gtids ...GTID) (GTIDSet, error) {
	s := NewGTIDSet(f)
	for _, g := range gtids {
		var err error
		if s, err = s.Add(g); err != nil {
			return GTIDSet{}, fmt.Errorf("building a %s GTID set: %w", f, err)
		}
	}
	return s, nil
}

// Flavor is the set's flavor; FlavorUnknown only for an empty zero value.
func (s GTIDSet) Flavor() Flavor { return s.flavor }

// IsEmpty reports whether the set holds no GTID.
func (s GTIDSet) IsEmpty() bool { return len(s.streams) == 0 }

// Count is the number of GTIDs in the set, saturating at math.MaxUint64.
func (s GTIDSet) Count() uint64 {
	var n uint64
	for _, st := range s.streams {
		n = addSat(n, st.iv.count())
	}
	return n
}

// find returns the index of the stream with key's key, or -1.
func (s GTIDSet) find(key stream) int {
	i := sort.Search(len(s.streams), func(i int) bool { return !s.streams[i].less(key) })
	if i < len(s.streams) && s.streams[i].sameKey(key) {
		return i
	}
	return -1
}

// Contains reports whether g is in the set; for MariaDB, whatever g's server
// id. A GTID of another flavor, or one Add would reject, is not.
func (s GTIDSet) Contains(g GTID) bool {
	if g.Flavor != s.flavor || g.check() != nil {
		return false
	}
	i := s.find(streamOf(g))
	return i >= 0 && s.streams[i].iv.contains(g.Seq)
}

// Add returns s with g added. g must be valid and of the set's flavor (a
// FlavorUnknown set takes g's). For MariaDB, g's server id becomes the
// domain's when g.Seq is at least the domain's highest.
func (s GTIDSet) Add(g GTID) (GTIDSet, error) {
	if err := g.check(); err != nil {
		return GTIDSet{}, fmt.Errorf("adding to a GTID set: %w", err)
	}
	if s.flavor == FlavorUnknown {
		s.flavor = g.Flavor
	}
	if g.Flavor != s.flavor {
		return GTIDSet{}, fmt.Errorf("%w: cannot add %s GTID %s to a %s set", ErrBadGTID, g.Flavor, g, s.flavor)
	}
	return s.Union(GTIDSet{flavor: s.flavor, streams: []stream{streamOf(g)}}), nil
}

// resultFlavor is the flavor of a combination of s and o, and panics when
// both hold GTIDs of different flavors.
func (s GTIDSet) resultFlavor(o GTIDSet) Flavor {
	if s.flavor != o.flavor && !o.IsEmpty() && !s.IsEmpty() {
		panic(fmt.Sprintf("repl: GTID set flavors differ: %s and %s", s.flavor, o.flavor))
	}
	if s.IsEmpty() && (!o.IsEmpty() || s.flavor == FlavorUnknown) {
		return o.flavor
	}
	return s.flavor
}

// combine merges the streams of s and o key by key. Streams are sorted, so
// this is a merge join; f decides the result for each key (a or b may be nil).
func (s GTIDSet) combine(o GTIDSet, f func(a, b *stream) stream) GTIDSet {
	out := GTIDSet{flavor: s.resultFlavor(o)}
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
		if r := f(a, b); len(r.iv) > 0 {
			out.streams = append(out.streams, r)
		}
	}
	return out
}

// Union returns every GTID in s or o. For MariaDB each domain keeps the
// server id of its highest GTID; when s and o hold the same highest sequence
// number, o's server id wins (o is taken as the newer observation).
func (s GTIDSet) Union(o GTIDSet) GTIDSet {
	return s.combine(o, func(a, b *stream) stream {
		switch {
		case a == nil:
			return *b
		case b == nil:
			return *a
		}
		r := *a
		r.iv = a.iv.union(b.iv)
		if b.iv.max() >= a.iv.max() {
			r.server = b.server
		}
		return r
	})
}

// Subtract returns the GTIDs of s that are not in o, whatever their MariaDB
// server ids: the loss set is captured.Subtract(newMasterExecuted).
func (s GTIDSet) Subtract(o GTIDSet) GTIDSet {
	return s.combine(o, func(a, b *stream) stream {
		switch {
		case a == nil:
			return stream{}
		case b == nil:
			return *a
		}
		r := *a
		r.iv = a.iv.subtract(b.iv)
		return r
	})
}

// Intersect returns the GTIDs in both s and o, with s's server ids.
func (s GTIDSet) Intersect(o GTIDSet) GTIDSet {
	return s.combine(o, func(a, b *stream) stream {
		if a == nil || b == nil {
			return stream{}
		}
		r := *a
		r.iv = a.iv.intersect(b.iv)
		return r
	})
}

// Subset reports whether every GTID of s is in o. Server ids do not matter.
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
// position's text. All empty sets are equal.
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
// highest GTID of each uuid and tag. They are in String's order.
func (s GTIDSet) Last() []GTID {
	out := make([]GTID, 0, len(s.streams))
	for _, st := range s.streams {
		out = append(out, st.gtid(s.flavor, st.iv.max()))
	}
	return out
}

func (st stream) gtid(f Flavor, seq uint64) GTID {
	return GTID{Flavor: f, Domain: st.domain, Server: st.server, UUID: st.uuid, Tag: st.tag, Seq: seq}
}

// All yields every GTID of the set in String's order, lazily (a set may hold
// billions). MariaDB GTIDs carry their domain's server id: the set does not
// remember the origin of any other GTID.
func (s GTIDSet) All() iter.Seq[GTID] {
	return func(yield func(GTID) bool) {
		for _, st := range s.streams {
			for _, r := range st.iv {
				for n := r.lo; ; n++ {
					if !yield(st.gtid(s.flavor, n)) {
						return
					}
					if n == r.hi {
						break
					}
				}
			}
		}
	}
}
