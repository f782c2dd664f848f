package capture_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
	kafkatest "github.com/recoup-dev/recoup/test/kafka"
)

// chunkMessageBytes makes a 100 KiB record take 7 chunks.
const chunkMessageBytes = 16 << 10

// bigRecord returns a transaction of about size bytes that takes the place
// of Record(i) in the sequence (same GTID and After).
func bigRecord(i int64, size int) capture.Record {
	r := storetest.LargeRecord(uint64(i), size)
	r.GTID, r.After = storetest.Record(i).GTID, storetest.Record(i).After
	return r
}

// rawWrite writes msgs with a plain kafka-go writer, one by one (they are
// as large as the topic allows), as a writer that failed half way through
// a chunk group would have.
func rawWrite(t *testing.T, b *kafkatest.Server, topic string, msgs []kafka.Message) {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr: kafka.TCP(b.Addr()), Topic: topic, Transport: tr,
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 1,
	}
	defer w.Close()
	for i, m := range msgs {
		if err := w.WriteMessages(ctxKafka(t), m); err != nil {
			t.Fatalf("raw write of message %d of %d: %v", i+1, len(msgs), err)
		}
	}
}

func chunkMessages(t *testing.T, s *capture.Kafka, r capture.Record, min int) []kafka.Message {
	t.Helper()
	msgs, err := s.ChunkMessages(r)
	if err != nil {
		t.Fatalf("ChunkMessages: %v", err)
	}
	if len(msgs) < min {
		t.Fatalf("record split into %d chunks, the test needs at least %d", len(msgs), min)
	}
	return msgs
}

func expectEOF(t *testing.T, r capture.Reader, when string) {
	t.Helper()
	if got, err := r.Next(ctxKafka(t)); err != io.EOF {
		t.Fatalf("Next %s = %v (offset %d), want io.EOF", when, err, got.Offset)
	}
}

// TestKafkaChunks: records larger than a message are split and
// reassembled; a group still being written is invisible to Last and
// readers until complete; a group abandoned by a failed write and written
// again yields the record once; Last widens its window past a tail group
// larger than it.
func TestKafkaChunks(t *testing.T) {
	b := kafkatest.Broker(t)
	topic := newTopicName(t, b)
	s := openKafka(t, kafkaOptions(t, b, topic, chunkMessageBytes))
	defer s.Close()

	// 0 small, 1 in n chunks, 2 small.
	want := []capture.Record{storetest.Record(0), bigRecord(1, 100<<10), storetest.Record(2)}
	n := int64(len(chunkMessages(t, s, want[1], 3)))
	appendKafka(t, s, want[0])
	appendKafka(t, s, want[1:]...)
	offsets := []int64{0, 1, 1 + n}
	readKafka(t, s, 0, want, offsets)
	readKafka(t, s, 2, want[2:], offsets[2:]) // from inside the group: the next group
	checkKafkaLast(t, s, 1+n, want[2])

	// 3: its first two chunks only, then the rest.
	follow, err := s.ReadFrom(ctxKafka(t), 0)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	defer follow.Close()
	for i, w := range want {
		nextKafka(t, follow, offsets[i], w)
	}
	want = append(want, bigRecord(3, 100<<10))
	offsets = append(offsets, 2+n)
	msgs3 := chunkMessages(t, s, want[3], 3)
	rawWrite(t, b, topic, msgs3[:2])
	checkKafkaLast(t, s, 1+n, want[2])
	expectEOF(t, follow, "with an incomplete group at the tail")
	readKafka(t, s, 0, want[:3], offsets[:3])
	rawWrite(t, b, topic, msgs3[2:])
	nextKafka(t, follow, offsets[3], want[3])
	checkKafkaLast(t, s, offsets[3], want[3])

	// 4: two chunks of an abandoned write, then Append writes it whole.
	want = append(want, bigRecord(4, 100<<10), storetest.Record(5))
	abandoned := chunkMessages(t, s, want[4], 3)[:2]
	rawWrite(t, b, topic, abandoned)
	appendKafka(t, s, want[4:]...)
	n4 := int64(len(chunkMessages(t, s, want[4], 3)))
	offsets = append(offsets, offsets[3]+int64(len(msgs3))+2)
	offsets = append(offsets, offsets[4]+n4)
	nextKafka(t, follow, offsets[4], want[4])
	nextKafka(t, follow, offsets[5], want[5])
	expectEOF(t, follow, "at the end")
	readKafka(t, s, 0, want, offsets)
	checkKafkaLast(t, s, offsets[5], want[5])

	// 6 takes more chunks than Last's first window; then 7's incomplete
	// group, also larger than the window, hides nothing.
	want = append(want, bigRecord(6, 400<<10))
	n6 := int64(len(chunkMessages(t, s, want[6], 20)))
	appendKafka(t, s, want[6])
	offsets = append(offsets, offsets[5]+1)
	checkKafkaLast(t, s, offsets[6], want[6])
	rawWrite(t, b, topic, chunkMessages(t, s, bigRecord(7, 400<<10), 20)[:18])
	checkKafkaLast(t, s, offsets[6], want[6])
	readKafka(t, s, offsets[5], want[5:], offsets[5:])
	if _, next, err := s.Bounds(ctxKafka(t)); err != nil || next != offsets[6]+n6+18 {
		t.Fatalf("Bounds next = %d, %v; want %d", next, err, offsets[6]+n6+18)
	}
}

// TestKafkaLargeRecordChunked: the contract's 50 MiB record, with the
// default message size, in about 55 chunks.
func TestKafkaLargeRecordChunked(t *testing.T) {
	b := kafkatest.Broker(t)
	s := openKafka(t, kafkaOptions(t, b, b.NewTopic(t), 0)) // a topic with the broker's defaults
	defer s.Close()
	want := []capture.Record{storetest.Record(0), bigRecord(1, 50<<20), storetest.Record(2)}
	n := int64(len(chunkMessages(t, s, want[1], 50)))
	appendKafka(t, s, want[0])
	start := time.Now()
	appendKafka(t, s, want[1:]...)
	t.Logf("Append of a 50 MiB record in %d chunks and a small one: %v", n, time.Since(start))
	start = time.Now()
	readKafka(t, s, 0, want, []int64{0, 1, 1 + n})
	t.Logf("read back: %v", time.Since(start))
	checkKafkaLast(t, s, 1+n, want[2])
}

// TestKafkaAppendCanceled: a canceled Append writes nothing and returns
// the context's error.
func TestKafkaAppendCanceled(t *testing.T) {
	b := kafkatest.Broker(t)
	s := openKafka(t, kafkaOptions(t, b, newTopicName(t, b), 0))
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Append(ctx, storetest.Records(0, 3)...); err != context.Canceled {
		t.Fatalf("Append with a canceled context = %v, want context.Canceled", err)
	}
	if first, next, err := s.Bounds(ctxKafka(t)); err != nil || first != 0 || next != 0 {
		t.Fatalf("Bounds = %d, %d, %v; want 0, 0", first, next, err)
	}
}
