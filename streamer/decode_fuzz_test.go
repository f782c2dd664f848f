package streamer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/capture"
)

const fuzzCorpusDir = "testdata/fuzz/FuzzDecodeTxn"

// splitEvents cuts fuzz data into raw events by their header's size field,
// then repairs each event's size and CRC32 so that mutations reach the
// decoders instead of stopping at the checksum.
func splitEvents(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 && len(out) < 64 {
		n := len(data)
		if n >= replication.EventHeaderSize {
			if size := int(binary.LittleEndian.Uint32(data[9:13])); size >= replication.EventHeaderSize && size <= n {
				n = size
			}
		}
		ev := bytes.Clone(data[:n])
		data = data[n:]
		if len(ev) >= replication.EventHeaderSize+replication.BinlogChecksumLength {
			binary.LittleEndian.PutUint32(ev[9:13], uint32(len(ev)))
			binary.LittleEndian.PutUint32(ev[len(ev)-4:], crc32.ChecksumIEEE(ev[:len(ev)-4]))
		}
		out = append(out, ev)
	}
	return out
}

// fuzzSeeds are the testdata records' events, concatenated per record.
func fuzzSeeds(recs []capture.Record) [][]byte {
	var out [][]byte
	for _, r := range recs {
		var b []byte
		for _, e := range r.Events {
			b = append(b, e...)
		}
		if len(b) < 32<<10 {
			out = append(out, b)
		}
	}
	return out
}

// writeFuzzCorpus commits the seeds as the fuzz corpus (regenerated with
// TestTypeMatrix's -update-decode-testdata).
func writeFuzzCorpus(t *testing.T, recs []capture.Record) {
	if err := os.MkdirAll(fuzzCorpusDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, seed := range fuzzSeeds(recs) {
		body := fmt.Sprintf("go test fuzz v1\nbool(%v)\n[]byte(%q)\n", i%2 == 0, seed)
		if err := os.WriteFile(filepath.Join(fuzzCorpusDir, fmt.Sprintf("record-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecodeTxn feeds DecodeTxn mutated transactions (with valid checksums)
// with and without the record's table schemas: it must return a result or
// an ErrDecode, never panic, hang or allocate without bound.
func FuzzDecodeTxn(f *testing.F) {
	recs := loadTestdata(f)
	fde := recs[0].FormatDesc
	var tables []capture.TableSchema
	seen := map[uint64]bool{}
	for _, r := range recs {
		for _, ts := range r.Tables {
			if !seen[ts.TableID] {
				seen[ts.TableID] = true
				tables = append(tables, ts)
			}
		}
	}
	for _, seed := range fuzzSeeds(recs) {
		f.Add(true, seed)
	}
	f.Fuzz(func(t *testing.T, withTables bool, data []byte) {
		rec := capture.Record{Kind: capture.KindTxn, FormatDesc: fde, Events: splitEvents(data)}
		if withTables {
			rec.Tables = tables
		}
		txn, err := DecodeTxn(rec)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("error %v does not wrap ErrDecode", err)
			}
			return
		}
		for _, ch := range txn.Changes {
			if (ch.Before != nil && len(ch.Before) != len(ch.Table.Columns)) || (ch.After != nil && len(ch.After) != len(ch.Table.Columns)) {
				t.Fatalf("change of %s has images of %d/%d values for %d columns", ch.Table.QualifiedName(),
					len(ch.Before), len(ch.After), len(ch.Table.Columns))
			}
		}
	})
}
