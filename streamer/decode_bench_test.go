package streamer

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/repl"
)

// BenchmarkDecodeTxn measures read-time decoding of a captured transaction
// (captured by TestTypeMatrix from MariaDB): capture keeps raw events only,
// and readers pay this per transaction.
func BenchmarkDecodeTxn(b *testing.B) {
	recs := loadTestdata(b)
	for _, bc := range []struct {
		name string
		rows int
	}{{"1row", 1}, {"100rows", 100}} {
		rec := recordWith(b, recs, "bench", repl.Insert, bc.rows)
		size := 0
		for _, e := range rec.Events {
			size += len(e)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				txn, err := DecodeTxn(rec)
				if err != nil || len(txn.Changes) != bc.rows {
					b.Fatalf("DecodeTxn: %d changes, %v", len(txn.Changes), err)
				}
			}
		})
	}
}

// BenchmarkTableFromMap measures parsing a table map event and building its
// schema, which the streamer does for each table map it sees.
func BenchmarkTableFromMap(b *testing.B) {
	rec := recordWith(b, loadTestdata(b), "bench", repl.Insert, 1)
	d := newTxnDecoder(rec)
	if err := d.formatDescription(rec.FormatDesc); err != nil {
		b.Fatal(err)
	}
	var raw []byte
	for _, e := range rec.Events {
		if replication.EventType(e[4]) == replication.TABLE_MAP_EVENT {
			raw = e
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		ev, err := d.parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := TableFromMap(ev.Event.(*replication.TableMapEvent), nil); err != nil {
			b.Fatal(err)
		}
	}
}
