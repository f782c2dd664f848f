package streamer

import (
	"bytes"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/repl"
)

// rawTableMap is a table map event's raw bytes: a header whose timestamp
// and position vary, the table id, then body, then a checksum when crc.
func rawTableMap(id byte, stamp byte, schema, rest string, crc bool) []byte {
	raw := make([]byte, replication.EventHeaderSize)
	raw[0] = stamp
	raw = append(raw, id, 0, 0, 0, 0, 0, 1, 0, byte(len(schema)))
	raw = append(append(append(raw, schema...), 0), rest...)
	if crc {
		raw = append(raw, stamp, id, 0xAA, 0xBB)
	}
	return raw
}

func TestMapKey(t *testing.T) {
	tme := &replication.TableMapEvent{Schema: []byte("app")}
	key := func(crc bool, raw []byte) []byte {
		b := &txnBuilder{crc: crc}
		return b.mapKey(&replication.BinlogEvent{RawData: raw, Event: tme}, tme)
	}
	base := key(true, rawTableMap(1, 1, "app", "\x01t\x00cols", true))
	if base == nil || !bytes.HasSuffix(base, []byte("cols")) {
		t.Fatalf("key %q: want the body after the table id, without the checksum", base)
	}
	cases := []struct {
		name string
		crc  bool
		raw  []byte
		same bool // same key as base
		nil  bool
	}{
		{"other table id, header and checksum", true, rawTableMap(9, 7, "app", "\x01t\x00cols", true), true, false},
		{"other columns", true, rawTableMap(1, 1, "app", "\x01t\x00colz", true), false, false},
		{"no checksum: the whole tail is the body", false, rawTableMap(1, 1, "app", "\x01t\x00cols", true), false, false},
		{"schema not where the event says", true, rawTableMap(1, 1, "abc", "\x01t\x00cols", true), false, true},
		{"truncated", true, make([]byte, replication.EventHeaderSize+4), false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := key(tc.crc, tc.raw)
			if (k == nil) != tc.nil || bytes.Equal(k, base) != tc.same {
				t.Fatalf("key %q, base %q: want nil %v, same %v", k, base, tc.nil, tc.same)
			}
		})
	}
}

func TestTableCache(t *testing.T) {
	var c tableCache
	h1, h2 := &repl.Table{Name: "t"}, &repl.Table{Name: "t"}
	c.put([]byte("k"), h1, repl.Table{Name: "built"})
	if got, ok := c.get([]byte("k"), h1); !ok || got.Name != "built" {
		t.Fatalf("get = %v, %v: want the cached table", got, ok)
	}
	if _, ok := c.get([]byte("k"), h2); ok {
		t.Fatal("a table built from another history entry was returned")
	}
	if _, ok := c.get([]byte("other"), h1); ok {
		t.Fatal("a table was returned for another table map")
	}
	c.reset()
	if _, ok := c.get([]byte("k"), h1); ok {
		t.Fatal("a table survived a reset (DDL)")
	}
	for i := range maxCachedTables + 1 {
		c.put([]byte{byte(i), byte(i >> 8)}, h1, repl.Table{})
	}
	if len(c.m) > maxCachedTables {
		t.Fatalf("cache holds %d tables, bound %d", len(c.m), maxCachedTables)
	}
}
