package capture

import (
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

// BenchmarkKafkaEncode measures what Append does before any request: it
// encodes a group commit of 512 transactions shaped like sysbench
// oltp_write_only's (8 events, 2.2 KB) into produce batches.
func BenchmarkKafkaEncode(b *testing.B) {
	k := &Kafka{opts: KafkaOptions{Cluster: "bench", Topic: "recoup-bench", MaxMessageBytes: DefaultKafkaMaxMessageBytes},
		idPrefix: "0123456789abcdef", key: []byte("bench"), format: []byte(kafkaFormat)}
	recs := make([]Record, 512)
	size := 0
	for i := range recs {
		recs[i] = sysbenchLikeRecord(uint64(i + 1))
		enc, err := EncodeRecord(recs[i])
		if err != nil {
			b.Fatal(err)
		}
		size += len(enc)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.batches(recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

// sysbenchLikeRecord is a transaction record of 8 events of 2.2 KB in
// all, with one table schema, as sysbench oltp_write_only writes.
func sysbenchLikeRecord(seq uint64) Record {
	sizes := []int{60, 90, 60, 700, 60, 700, 60, 400}
	events := make([][]byte, len(sizes))
	for i, n := range sizes {
		events[i] = make([]byte, n)
	}
	after, _ := repl.ParseGTIDSet(repl.MariaDB, "0-1-1")
	return Record{Kind: KindTxn, Cluster: "bench", Master: "127.0.0.1:3306",
		GTID: repl.MariaDBGTID(0, 1, seq), After: after, ServerID: 1,
		Start: repl.BinlogPos{File: "mariadb-bin.000001", Pos: 4}, End: repl.BinlogPos{File: "mariadb-bin.000001", Pos: 2200},
		FormatDesc: make([]byte, 256), Events: events,
		Tables: []TableSchema{{TableID: 42, Table: repl.Table{Schema: "sbtest", Name: "sbtest1", PrimaryKey: []int{0},
			Columns: []repl.Column{{Name: "id", Type: "int"}, {Name: "k", Type: "int"},
				{Name: "c", Type: "char", Length: 120, Charset: "utf8mb4"}, {Name: "pad", Type: "char", Length: 60, Charset: "utf8mb4"}}}}},
	}
}
