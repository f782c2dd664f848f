package kafkatest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	kafkatest "github.com/recoup-dev/recoup/test/kafka"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// partitionZero pins every message to partition 0.
type partitionZero struct{}

func (partitionZero) Balance(kafka.Message, ...int) int { return 0 }

// testMessages covers binary bytes, an empty value, and headers with binary,
// empty and repeated keys.
var testMessages = []kafka.Message{
	{
		Key:   []byte("gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"),
		Value: []byte{0x00, 0xff, 0x7f, 0x80, '\n', 0x00},
		Headers: []kafka.Header{
			{Key: "cluster", Value: []byte("main")},
			{Key: "bin", Value: []byte{0x00, 0x01, 0xfe, 0xff}},
			{Key: "empty", Value: []byte{}},
			{Key: "cluster", Value: []byte("repeated")},
		},
	},
	{Key: []byte("k2"), Value: []byte{}},
	{Key: nil, Value: bytes.Repeat([]byte("row "), 4096), Headers: []kafka.Header{{Key: "n", Value: []byte("3")}}},
}

func writeAll(t *testing.T, addr, topic string, msgs []kafka.Message) {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		Balancer:     partitionZero{},
		BatchTimeout: 10 * time.Millisecond,
		Transport:    tr,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("writing %d messages to %s: %v", len(msgs), topic, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("closing writer: %v", err)
	}
}

// readBack reads len(want) messages of partition 0 from the first offset and
// compares key, value, headers and offsets; the high watermark must show that
// nothing else was written.
func readBack(t *testing.T, addr, topic string, want []kafka.Message) {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{addr}, Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond,
	})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, w := range want {
		got, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading message %d of %s: %v", i, topic, err)
		}
		if got.Offset != int64(i) || got.Partition != 0 {
			t.Errorf("message %d: partition %d offset %d, want partition 0 offset %d", i, got.Partition, got.Offset, i)
		}
		if !bytes.Equal(got.Key, w.Key) || !bytes.Equal(got.Value, w.Value) {
			t.Errorf("message %d: key %q value %q, want key %q value %q", i, got.Key, trunc(got.Value), w.Key, trunc(w.Value))
		}
		if !sameHeaders(got.Headers, w.Headers) {
			t.Errorf("message %d: headers %q, want %q", i, got.Headers, w.Headers)
		}
		if i == len(want)-1 && got.HighWaterMark != int64(len(want)) {
			t.Errorf("high watermark %d, want %d (messages lost or duplicated)", got.HighWaterMark, len(want))
		}
	}
}

func sameHeaders(a, b []kafka.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func trunc(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// TestMessageSurvivesRestart writes with acks=all, stops the broker (and checks
// that it is really gone), starts it on the same port and data dir and reads
// the same bytes and headers back; then once more through Restart.
func TestMessageSurvivesRestart(t *testing.T) {
	b := kafkatest.NewBroker(t)
	topic := b.NewTopic(t)
	writeAll(t, b.Addr(), topic, testMessages)

	began := time.Now()
	b.Stop(t)
	t.Logf("stop took %v", time.Since(began))
	if c, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("broker %s still accepts connections after Stop", b.Addr())
	}
	began = time.Now()
	b.Start(t)
	t.Logf("start took %v", time.Since(began))
	readBack(t, b.Addr(), topic, testMessages)

	b.Restart(t)
	readBack(t, b.Addr(), topic, testMessages)
}

// TestSharedBrokerTopics checks that NewTopic gives distinct, usable topics on
// the shared broker and deletes them when the (sub)test ends.
func TestSharedBrokerTopics(t *testing.T) {
	b := kafkatest.Broker(t)
	if b2 := kafkatest.Broker(t); b2 != b {
		t.Fatalf("Broker returned %p then %p, want the same shared broker", b, b2)
	}
	var made []string
	t.Run("create", func(t *testing.T) {
		first, second := b.NewTopic(t), b.NewTopic(t)
		if first == second {
			t.Fatalf("NewTopic returned %q twice", first)
		}
		made = []string{first, second}
		writeAll(t, b.Addr(), second, testMessages[:1])
		readBack(t, b.Addr(), second, testMessages[:1])
	})
	if len(made) != 2 {
		t.Fatal("subtest made no topics")
	}
	for _, name := range made {
		if err := waitGone(b.Addr(), name); err != nil {
			t.Errorf("topic %s after its test ended: %v", name, err)
		}
	}
}

// waitGone polls metadata until the broker reports the topic unknown.
func waitGone(addr, topic string) error {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(addr), Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return fmt.Errorf("reading metadata: %w", err)
		}
		if len(md.Topics) == 1 && errors.Is(md.Topics[0].Error, kafka.UnknownTopicOrPartition) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still exists: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
