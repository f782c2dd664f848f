package capturetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestBigTransaction captures one 50 MiB transaction (50 rows of 1 MiB of
// random bytes in a LONGBLOB) into a local and a Kafka store and checks
// that every row decodes byte for byte as written. The Kafka store must
// have split the record into chunks (its messages are below 1 MiB), which
// shows in the offsets: the next record comes dozens of offsets later.
func TestBigTransaction(t *testing.T) {
	const nRows, rowBytes = 50, 1 << 20
	inst := sandbox.StartInstance(t, map[string]string{"max_allowed_packet": "64M"})
	db := inst.DB(t)
	var caps []*captured
	for i, k := range bothStores() {
		caps = append(caps, startCapture(t, k, inst, uint32(i)))
	}
	mustExec(t, db, "CREATE DATABASE big")
	mustExec(t, db, "CREATE TABLE big.b (id INT PRIMARY KEY, v LONGBLOB NOT NULL)")
	rng := rand.NewChaCha8([32]byte{'r', 'e', 'c', 'o', 'u', 'p'})
	blobs := make([][]byte, nRows)
	for i := range blobs {
		blobs[i] = make([]byte, rowBytes)
		_, _ = rng.Read(blobs[i]) // ChaCha8.Read never fails
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustExec(t, conn, "BEGIN")
	for i, b := range blobs {
		mustExec(t, conn, "INSERT INTO big.b VALUES (?, ?)", i, b)
	}
	mustExec(t, conn, "COMMIT")
	big := lastGTID(t, conn)
	mustExec(t, conn, "INSERT INTO big.b VALUES (?, ?)", nRows, []byte("after"))
	after := lastGTID(t, conn)

	for _, c := range caps {
		t.Run(c.kind, func(t *testing.T) {
			txns := c.finish(t, inst, 60*time.Second)
			checkBigRows(t, txns[big], blobs)
			if got := txns[after]; len(got.Changes) != 1 || !bytes.Equal(got.Changes[0].After[1].Bytes(), []byte("after")) {
				t.Errorf("the transaction after the big one decoded to %+v", got.Changes)
			}
			checkBigOffsets(t, c, big, after, nRows*rowBytes)
		})
	}
}

func checkBigRows(t *testing.T, txn repl.Txn, blobs [][]byte) {
	t.Helper()
	if len(txn.Changes) != len(blobs) {
		t.Fatalf("the big transaction decoded to %d changes, want %d", len(txn.Changes), len(blobs))
	}
	for i, ch := range txn.Changes {
		if ch.Type() != repl.Insert || ch.After[0].Int() != int64(i) || ch.After[1].Kind() != repl.KindBytes {
			t.Fatalf("change %d: %s of id %s, value kind %s", i, ch.Type(), ch.After[0], ch.After[1].Kind())
		}
		if !bytes.Equal(ch.After[1].Bytes(), blobs[i]) {
			t.Errorf("row %d: decoded %d bytes that differ from the %d written", i, len(ch.After[1].Bytes()), len(blobs[i]))
		}
	}
}

// checkBigOffsets reads the store's offsets of the big record and the next
// transaction: Kafka chunks a record bigger than a message (one offset per
// chunk), Local gives every record one offset.
func checkBigOffsets(t *testing.T, c *captured, big, after repl.GTID, size int) {
	t.Helper()
	offsets := map[repl.GTID]int64{}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rd, err := c.store.ReadFrom(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for {
		rec, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind == capture.KindTxn {
			offsets[rec.GTID] = rec.Offset
		}
	}
	gap := offsets[after] - offsets[big]
	minGap := int64(1)
	if c.kind == "kafka" {
		minGap = int64(size / capture.DefaultKafkaMaxMessageBytes)
	}
	if gap < minGap || (c.kind == "local" && gap != 1) {
		t.Errorf("%s: the big record is at offset %d, the next transaction at %d: want a gap of %d or more",
			c.kind, offsets[big], offsets[after], minGap)
	}
	t.Logf("%s: the 50 MiB record spans offsets %d to %d", c.kind, offsets[big], offsets[after]-1)
}
