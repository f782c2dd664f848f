package capture

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

// fuzzRecord is a small valid record for seeds.
func fuzzRecord(t testing.TB) []byte {
	b, err := EncodeRecord(Record{
		Kind: KindTxn, Cluster: "cl1", Master: "db1:3306", GTID: repl.MariaDBGTID(0, 1, 5), ServerID: 1,
		Start: repl.BinlogPos{File: "mysql-bin.000001", Pos: 4}, Events: [][]byte{[]byte("event one"), []byte("event two")},
	})
	if err != nil {
		t.Fatalf("encoding the seed record: %v", err)
	}
	return b
}

// scriptMessages turns a fuzz script into messages at offsets 0, 1, ...:
// every 3 bytes give one message's chunk, chunk count and record id, and
// payload is split evenly among the messages, in order.
func scriptMessages(script, payload []byte) []kafkaMessage {
	n := len(script) / 3
	msgs := make([]kafkaMessage, n)
	for i := range msgs {
		s := script[3*i:]
		msgs[i] = kafkaMessage{
			offset: int64(i), chunk: int(s[0]), chunks: int(s[1]), id: string(s[2:3]),
			value: payload[i*len(payload)/n : (i+1)*len(payload)/n],
		}
	}
	return msgs
}

// FuzzKafkaAssemble: whatever the message sequence, every record the
// assembler returns comes from the run of messages chunk 1..n of one
// record id that ends at the message completing it, starts at the
// record's offset, and whose values, joined, decode to that record;
// anything else is dropped or refused as corrupt.
func FuzzKafkaAssemble(f *testing.F) {
	rec := fuzzRecord(f)
	junk := bytes.Repeat([]byte{0xa5}, len(rec))
	f.Add([]byte{1, 1, 'a'}, rec)
	f.Add([]byte{1, 3, 'a', 2, 3, 'a', 3, 3, 'a'}, rec)
	f.Add([]byte{1, 3, 'a', 2, 3, 'a', 1, 2, 'b', 2, 2, 'b'}, append(junk[:len(junk):len(junk)], rec...))
	f.Add([]byte{2, 2, 'a', 1, 2, 'b', 2, 2, 'b'}, append(junk[:len(rec)/2:len(rec)/2], rec...))
	f.Fuzz(func(t *testing.T, script, payload []byte) {
		msgs := scriptMessages(script, payload)
		var a assembler
		for i, m := range msgs {
			if m.chunk < 1 || m.chunk > m.chunks {
				continue // readMessage refuses such headers: see FuzzKafkaChunkHeader
			}
			rec, ok, err := a.add(m)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("message %d: error not wrapping ErrCorrupt: %v", i, err)
				}
				continue
			}
			if ok {
				checkRun(t, msgs, i, rec)
			}
		}
	})
}

// checkRun checks that rec is what the run of chunks ending at msgs[end]
// holds.
func checkRun(t *testing.T, msgs []kafkaMessage, end int, rec Record) {
	n := msgs[end].chunks
	start := end - n + 1
	if start < 0 || int64(start) != rec.Offset {
		t.Fatalf("record at offset %d completed by message %d of a %d-chunk group", rec.Offset, end, n)
	}
	var data []byte
	for j, m := range msgs[start : end+1] {
		if m.chunk != j+1 || m.chunks != n || m.id != msgs[end].id {
			t.Fatalf("message %d (chunk %d/%d id %q) is not chunk %d/%d of record %q", start+j, m.chunk, m.chunks, m.id, j+1, n, msgs[end].id)
		}
		data = append(data, m.value...)
	}
	want, err := DecodeRecord(data)
	if err != nil {
		t.Fatalf("the run's data does not decode: %v", err)
	}
	got, err1 := EncodeRecord(rec)
	exp, err2 := EncodeRecord(want)
	if err1 != nil || err2 != nil || !bytes.Equal(got, exp) {
		t.Fatalf("assembled record differs from the run's data (%v, %v)", err1, err2)
	}
}

// FuzzKafkaChunkHeader: parseChunk accepts exactly "i/n" with 1 <= i <= n
// and refuses everything else with an error wrapping ErrCorrupt.
func FuzzKafkaChunkHeader(f *testing.F) {
	for _, s := range []string{"1/1", "3/7", "0/1", "2/1", "1/", "/1", "1", "", "a/b", "1/2/3", "+1/2", "-1/1", "99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, n, err := parseChunk(s)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || i != 0 || n != 0 {
				t.Fatalf("parseChunk(%q) = %d, %d, %v", s, i, n, err)
			}
			return
		}
		if i < 1 || i > n {
			t.Fatalf("parseChunk(%q) accepted %d/%d", s, i, n)
		}
		if i2, n2, err := parseChunk(strconv.Itoa(i) + "/" + strconv.Itoa(n)); err != nil || i2 != i || n2 != n {
			t.Fatalf("parseChunk of the canonical form of %q = %d, %d, %v", s, i2, n2, err)
		}
	})
}
