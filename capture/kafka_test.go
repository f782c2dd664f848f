package capture_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
	kafkatest "github.com/recoup-dev/recoup/test/kafka"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// contractMessageBytes lets the contract's 50 MiB record fit in one
// message: the contract expects consecutive offsets for consecutive
// records, which chunking does not give. Chunking has its own tests.
const contractMessageBytes = 64 << 20

func TestKafkaContract(t *testing.T) {
	b := kafkatest.Broker(t)
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) capture.Store {
			return openKafka(t, kafkaOptions(t, b, newTopicName(t, b), contractMessageBytes))
		},
		Reopen: func(t *testing.T, s capture.Store) capture.Store {
			k := s.(*capture.Kafka)
			if err := k.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return openKafka(t, kafkaOptions(t, b, k.Topic(), contractMessageBytes))
		},
	})
}

// TestKafkaDuplicates: a batch written twice, as after an Append that
// failed but was durable, is read once; Last is the last record written.
func TestKafkaDuplicates(t *testing.T) {
	b := kafkatest.Broker(t)
	s := openKafka(t, kafkaOptions(t, b, newTopicName(t, b), 0))
	defer s.Close()
	all := storetest.Records(0, 15)
	appendKafka(t, s, all[:10]...)
	appendKafka(t, s, all[5:9]...) // transactions 5..8 again, at offsets 10..13
	appendKafka(t, s, all[10:]...)
	offsets := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 15, 16, 17, 18}
	readKafka(t, s, 0, all, offsets)
	readKafka(t, s, 12, all[10:], offsets[10:]) // starting among the duplicates
	checkKafkaLast(t, s, 18, all[14])
}

func TestOpenKafkaRefuses(t *testing.T) {
	b := kafkatest.Broker(t)
	tests := []struct {
		name       string
		partitions int
		configs    map[string]string
		want       string
	}{
		{"two partitions", 2, nil, "has 2 partitions"},
		{"compacted", 1, map[string]string{"cleanup.policy": "compact"}, "cleanup.policy=compact"},
		{"small messages", 1, map[string]string{"max.message.bytes": "100000"}, "accepts messages up to 100000 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := newTopicName(t, b)
			createRawTopic(t, b, topic, tc.partitions, tc.configs)
			s, err := capture.OpenKafka(ctxKafka(t), kafkaOptions(t, b, topic, 0))
			if err == nil {
				s.Close()
				t.Fatalf("OpenKafka on topic %s succeeded, want an error containing %q", topic, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("OpenKafka error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestKafkaOptionsRefused(t *testing.T) {
	ok := capture.KafkaOptions{Brokers: []string{"127.0.0.1:1"}, Cluster: "cl1", Topic: "t"}
	tests := []struct {
		name   string
		change func(o *capture.KafkaOptions)
		want   string
	}{
		{"no cluster", func(o *capture.KafkaOptions) { o.Cluster = "" }, "Cluster is required"},
		{"no brokers", func(o *capture.KafkaOptions) { o.Brokers = nil }, "Brokers is required"},
		{"broker without port", func(o *capture.KafkaOptions) { o.Brokers = []string{"127.0.0.1"} }, "broker address"},
		{"bad topic", func(o *capture.KafkaOptions) { o.Topic = "a/b" }, "invalid topic name"},
		{"bad default topic", func(o *capture.KafkaOptions) { o.Topic, o.Cluster = "", "db:3306" }, "invalid topic name"},
		{"tiny messages", func(o *capture.KafkaOptions) { o.MaxMessageBytes = 1000 }, "below the minimum"},
		{"negative timeout", func(o *capture.KafkaOptions) { o.RequestTimeout = -1 }, "negative option"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.change(&o)
			s, err := capture.OpenKafka(ctxKafka(t), o)
			if err == nil {
				s.Close()
				t.Fatalf("OpenKafka succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("OpenKafka error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestKafkaTopicConfigOverride: TopicConfig cannot bypass the checks.
func TestKafkaTopicConfigOverride(t *testing.T) {
	b := kafkatest.Broker(t)
	o := kafkaOptions(t, b, newTopicName(t, b), 0)
	o.TopicConfig = map[string]string{"cleanup.policy": "compact"}
	s, err := capture.OpenKafka(ctxKafka(t), o)
	if err == nil {
		s.Close()
		t.Fatal("OpenKafka with TopicConfig cleanup.policy succeeded")
	}
	if !strings.Contains(err.Error(), "use the KafkaOptions field") {
		t.Fatalf("OpenKafka error = %q", err)
	}
}

// TestKafkaBrokerRestart: with the broker down Append and Last fail
// instead of blocking; once it is back, the writer resumes as the streamer
// does (re-read Last, append what follows) and a reader opened before the
// stop reads every record once, in order.
func TestKafkaBrokerRestart(t *testing.T) {
	b := kafkatest.NewBroker(t)
	o := kafkaOptions(t, b, newTopicName(t, b), 0)
	o.RequestTimeout = 3 * time.Second
	s := openKafka(t, o)
	defer s.Close()
	all := storetest.Records(0, 40)
	appendKafka(t, s, all[:10]...)
	r, err := s.ReadFrom(ctxKafka(t), 0)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	defer r.Close()
	for i := range 10 {
		nextKafka(t, r, int64(i), all[i])
	}

	b.Stop(t)
	for try := range 2 { // the first meets a dead pooled connection, the second dials
		start := time.Now()
		err := s.Append(context.Background(), all[10:15]...)
		if err == nil {
			t.Fatalf("Append %d with the broker stopped succeeded", try+1)
		}
		t.Logf("Append %d with the broker stopped failed after %v: %v", try+1, time.Since(start), err)
	}
	if _, _, err := s.Last(context.Background()); err == nil {
		t.Fatal("Last with the broker stopped succeeded")
	}
	b.Start(t)

	failures := appendResuming(t, s, all, 10)
	t.Logf("appends that failed after the restart and were resumed from Last: %d", failures)
	for i := 10; i < len(all); i++ {
		got, err := r.Next(ctxKafka(t))
		if err != nil {
			t.Fatalf("Next after the restart, record %d: %v", i, err)
		}
		if d := storetest.Diff(all[i], got); d != "" {
			t.Fatalf("record %d (offset %d) after the restart differs: %s", i, got.Offset, d)
		}
	}
	if got, err := r.Next(ctxKafka(t)); err != io.EOF {
		t.Fatalf("Next at the end = %v (offset %d), want io.EOF", err, got.Offset)
	}
}

// appendResuming appends all[from:] in batches of 5 as the streamer does:
// on an error it re-reads Last and resumes after that record. It returns
// how many Appends failed.
func appendResuming(t *testing.T, s *capture.Kafka, all []capture.Record, from int) int {
	t.Helper()
	ctx := ctxKafka(t)
	failures := 0
	for i := from; i < len(all); {
		err := s.Append(ctx, all[i:min(i+5, len(all))]...)
		if err == nil {
			i += 5
			continue
		}
		if failures++; failures > 20 {
			t.Fatalf("Append keeps failing after the restart: %v", err)
		}
		t.Logf("Append of records %d..: %v", i, err)
		time.Sleep(500 * time.Millisecond)
		last, ok, err := s.Last(ctx)
		if err != nil {
			t.Logf("Last: %v", err)
			continue
		}
		i = resumeIndex(t, all, last, ok)
	}
	return failures
}

// resumeIndex returns the index of the record that follows last in all.
func resumeIndex(t *testing.T, all []capture.Record, last capture.Record, ok bool) int {
	t.Helper()
	if !ok {
		return 0
	}
	for j := range all {
		if storetest.Diff(all[j], last) == "" {
			return j + 1
		}
	}
	t.Fatalf("Last returned a record that was never appended (offset %d)", last.Offset)
	return 0
}

// --- helpers shared by the Kafka tests ---

func ctxKafka(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func kafkaOptions(t testing.TB, b *kafkatest.Server, topic string, maxMessageBytes int) capture.KafkaOptions {
	return capture.KafkaOptions{
		Brokers: []string{b.Addr()}, Topic: topic, Cluster: "cl1",
		MaxMessageBytes: maxMessageBytes, Logger: testLogger(t),
	}
}

func openKafka(t testing.TB, o capture.KafkaOptions) *capture.Kafka {
	t.Helper()
	s, err := capture.OpenKafka(ctxKafka(t), o)
	if err != nil {
		t.Fatalf("OpenKafka(%s): %v", o.Topic, err)
	}
	return s
}

// newTopicName returns a fresh topic name for OpenKafka to create, and
// deletes the topic when t ends.
func newTopicName(t testing.TB, b *kafkatest.Server) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("recoup-test-")
	for _, r := range t.Name() {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('-')
		}
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix) // never fails
	name := sb.String()[:min(sb.Len(), 200)] + "-" + hex.EncodeToString(suffix)
	t.Cleanup(func() { deleteTopic(t, b, name) })
	return name
}

func rawClient(b *kafkatest.Server) (*kafka.Client, func()) {
	tr := &kafka.Transport{}
	return &kafka.Client{Addr: kafka.TCP(b.Addr()), Timeout: 10 * time.Second, Transport: tr}, tr.CloseIdleConnections
}

func deleteTopic(t testing.TB, b *kafkatest.Server, name string) {
	c, done := rawClient(b)
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{name}})
	if err == nil {
		err = resp.Errors[name]
	}
	if err != nil && !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Logf("deleting topic %s: %v", name, err) // a stopped private broker takes its topics along
	}
}

func createRawTopic(t testing.TB, b *kafkatest.Server, name string, partitions int, configs map[string]string) {
	t.Helper()
	tc := kafka.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: 1}
	for k, v := range configs {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	c, done := rawClient(b)
	defer done()
	resp, err := c.CreateTopics(ctxKafka(t), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc}})
	if err == nil {
		err = resp.Errors[name]
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", name, err)
	}
}

func appendKafka(t testing.TB, s capture.Store, recs ...capture.Record) {
	t.Helper()
	if err := s.Append(ctxKafka(t), recs...); err != nil {
		t.Fatalf("Append of %d records: %v", len(recs), err)
	}
}

func nextKafka(t testing.TB, r capture.Reader, off int64, want capture.Record) {
	t.Helper()
	got, err := r.Next(ctxKafka(t))
	if err != nil {
		t.Fatalf("Next, want the record at offset %d: %v", off, err)
	}
	if got.Offset != off {
		t.Fatalf("Next returned offset %d, want %d", got.Offset, off)
	}
	if d := storetest.Diff(want, got); d != "" {
		t.Fatalf("record at offset %d differs: %s", off, d)
	}
}

// readKafka reads from offset from to the end and checks the records and
// their offsets.
func readKafka(t testing.TB, s capture.Store, from int64, want []capture.Record, offsets []int64) {
	t.Helper()
	r, err := s.ReadFrom(ctxKafka(t), from)
	if err != nil {
		t.Fatalf("ReadFrom(%d): %v", from, err)
	}
	defer r.Close()
	for i, w := range want {
		nextKafka(t, r, offsets[i], w)
	}
	if got, err := r.Next(ctxKafka(t)); err != io.EOF {
		t.Fatalf("Next at the end = %v (offset %d), want io.EOF", err, got.Offset)
	}
}

func checkKafkaLast(t testing.TB, s capture.Store, off int64, want capture.Record) {
	t.Helper()
	got, ok, err := s.Last(ctxKafka(t))
	if err != nil || !ok {
		t.Fatalf("Last = ok %v, err %v; want the record at offset %d", ok, err, off)
	}
	if got.Offset != off {
		t.Fatalf("Last returned offset %d, want %d", got.Offset, off)
	}
	if d := storetest.Diff(want, got); d != "" {
		t.Fatalf("Last (offset %d) differs: %s", off, d)
	}
}
