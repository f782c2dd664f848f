package capture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/recoup-dev/recoup/repl"
)

// DefaultKafkaMaxMessageBytes is the default bound on one produce batch:
// 1 MiB minus 64 KiB of headroom under the broker's default
// message.max.bytes (1048588), so that framing never pushes a batch over it.
const DefaultKafkaMaxMessageBytes = 1<<20 - 64<<10

// DefaultKafkaRequestTimeout bounds one request to Kafka by default.
const DefaultKafkaRequestTimeout = 10 * time.Second

// minKafkaMessageBytes is the smallest MaxMessageBytes accepted: headers
// and framing must leave room for a useful chunk.
const minKafkaMessageBytes = 4 << 10

// kafkaTailWindow is how many messages Last reads first, back from the high
// watermark; it widens the window fourfold until a complete record is in it.
const kafkaTailWindow = 16

// KafkaOptions configures a Kafka store.
type KafkaOptions struct {
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string
	// Topic is the cluster's topic (default "recoup-capture-" + Cluster).
	// It must have exactly one partition.
	Topic string
	// Cluster is the Orchestrator cluster alias: the key of every message
	// and its "cluster" header. Required.
	Cluster string
	// MaxMessageBytes bounds one produce batch, framing included (default
	// DefaultKafkaMaxMessageBytes). A record whose encoding does not fit is
	// split into chunks. The topic's max.message.bytes must be at least
	// this; OpenKafka checks it, and sets it when it creates the topic.
	MaxMessageBytes int
	// ReplicationFactor is used when OpenKafka creates the topic (default
	// 1, for tests). Production: 3, with MinInsyncReplicas 2, so that a
	// write acknowledged by all in-sync replicas survives a broker loss.
	ReplicationFactor int
	// MinInsyncReplicas sets min.insync.replicas on a created topic (0:
	// the broker's default).
	MinInsyncReplicas int
	// TopicConfig holds further configs for a created topic, for example
	// retention.ms; it cannot override max.message.bytes, cleanup.policy
	// or min.insync.replicas.
	TopicConfig map[string]string
	// RequestTimeout bounds each request to Kafka (default
	// DefaultKafkaRequestTimeout): Append returns an error after it when
	// Kafka does not acknowledge, rather than blocking.
	RequestTimeout time.Duration
	// Logger receives topic warnings and dropped chunk groups (default
	// slog.Default()).
	Logger *slog.Logger
}

// Kafka is a Store kept in one single-partition Kafka topic per cluster:
// one partition gives the log its total order.
//
// Append writes each batch with one produce request per up to
// MaxMessageBytes of messages, to partition 0, with acks=all, and returns
// once all in-sync replicas hold it. kafka-go has no idempotent producer,
// so Append never retries: on error it returns, and the caller (the
// streamer) re-reads Last and resumes from the GTID found there, which may
// write a record twice. Readers from ReadFrom drop such duplicates (see
// Dedupe). When Kafka is down, Append fails after at most RequestTimeout
// (or ctx's deadline); blocking and retrying is the streamer's job.
//
// A record's offset is the Kafka offset of its first message. A record
// larger than a message is split into ordered chunks sharing a record id;
// readers reassemble them, drop a group whose chunks stop before its end
// (a write interrupted by an error) and wait for a group still being
// written at the tail. Last skips such a tail and returns the previous
// complete record.
//
// Message value: EncodeRecord's bytes, or one chunk of them. Key: the
// cluster. Headers (all text): format, kind, cluster, master, gtid,
// server-id, start and end (file:pos), commit-time (RFC 3339), chunk
// ("i/n", from 1) and record-id; readers use only format, chunk and
// record-id, the rest is for people and tools reading the topic.
type Kafka struct {
	opts      KafkaOptions
	log       *slog.Logger
	client    *kafka.Client
	transport *kafka.Transport
	idPrefix  string        // random, distinguishes this writer's record ids
	key       []byte        // every message's key and cluster header: the cluster (read-only)
	format    []byte        // every message's format header (read-only)
	seq       atomic.Uint64 // record id counter
	wmu       sync.Mutex    // serializes Append: records keep their order
	closed    atomic.Bool
}

var _ Store = (*Kafka)(nil)

// OpenKafka connects to the brokers, creates the topic when it is missing
// (one partition, opts.ReplicationFactor replicas, max.message.bytes set to
// opts.MaxMessageBytes), and checks it: exactly one partition, no
// compaction, max.message.bytes at least opts.MaxMessageBytes.
func OpenKafka(ctx context.Context, opts KafkaOptions) (*Kafka, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	tr := newKafkaTransport(opts, []string{opts.Topic})
	k := &Kafka{
		opts:      opts,
		log:       opts.Logger,
		transport: tr,
		client:    &kafka.Client{Addr: kafka.TCP(opts.Brokers...), Timeout: opts.RequestTimeout, Transport: tr},
		idPrefix:  hex.EncodeToString(id[:]),
		key:       []byte(opts.Cluster),
		format:    []byte(kafkaFormat),
	}
	if err := k.ensureTopic(ctx); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return k, nil
}

func (o *KafkaOptions) setDefaults() error {
	if o.Cluster == "" {
		return errors.New("capture kafka: KafkaOptions.Cluster is required")
	}
	if len(o.Brokers) == 0 {
		return fmt.Errorf("capture kafka: cluster %s: KafkaOptions.Brokers is required", o.Cluster)
	}
	for _, b := range o.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("capture kafka: cluster %s: broker address %q: %w", o.Cluster, b, err)
		}
	}
	if o.Topic == "" {
		o.Topic = "recoup-capture-" + o.Cluster
	}
	if err := checkTopicName(o.Topic); err != nil {
		return fmt.Errorf("capture kafka: cluster %s: %w (set KafkaOptions.Topic)", o.Cluster, err)
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = DefaultKafkaMaxMessageBytes
	}
	if o.MaxMessageBytes < minKafkaMessageBytes {
		return fmt.Errorf("capture kafka: cluster %s: MaxMessageBytes %d is below the minimum %d", o.Cluster, o.MaxMessageBytes, minKafkaMessageBytes)
	}
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = 1
	}
	if o.ReplicationFactor < 0 || o.MinInsyncReplicas < 0 || o.RequestTimeout < 0 {
		return fmt.Errorf("capture kafka: cluster %s: negative option", o.Cluster)
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultKafkaRequestTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// checkTopicName applies Kafka's rules: 1 to 249 of [a-zA-Z0-9._-], not
// "." or "..".
func checkTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return fmt.Errorf("invalid topic name %q", name)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("invalid topic name %q: only letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}

// newKafkaTransport returns a transport with its own connection pool, so
// that Close releases every connection and no state is shared with other
// stores; metadata is limited to topics.
func newKafkaTransport(opts KafkaOptions, topics []string) *kafka.Transport {
	return &kafka.Transport{
		DialTimeout:    min(opts.RequestTimeout, 5*time.Second),
		ClientID:       "recoup",
		MetadataTopics: topics,
	}
}

func (k *Kafka) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if k.closed.Load() {
		return fmt.Errorf("%s: %w", k, ErrClosed)
	}
	return nil
}

// offsets returns the partition's log start offset and high watermark.
func (k *Kafka) offsets(ctx context.Context) (first, next int64, err error) {
	resp, err := k.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{k.opts.Topic: {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)}},
	})
	if err != nil {
		k.transport.CloseIdleConnections()
		return 0, 0, fmt.Errorf("%s: listing offsets: %w", k, err)
	}
	for _, p := range resp.Topics[k.opts.Topic] {
		if p.Partition != 0 {
			continue
		}
		if p.Error != nil {
			return 0, 0, fmt.Errorf("%s: listing offsets: %w", k, p.Error)
		}
		return p.FirstOffset, p.LastOffset, nil
	}
	return 0, 0, fmt.Errorf("%s: listing offsets: no answer for partition 0", k)
}

// Bounds returns the partition's first retained offset and its high
// watermark, the offset the next message gets.
func (k *Kafka) Bounds(ctx context.Context) (first, next int64, err error) {
	if err := k.check(ctx); err != nil {
		return 0, 0, err
	}
	return k.offsets(ctx)
}

// Last returns the last complete record (see tail).
func (k *Kafka) Last(ctx context.Context) (Record, bool, error) {
	if err := k.check(ctx); err != nil {
		return Record{}, false, err
	}
	first, next, err := k.offsets(ctx)
	if err != nil {
		return Record{}, false, err
	}
	last, _, ok, err := k.tail(ctx, first, next)
	return last, ok, err
}

// tail reads back from end: the last kafkaTailWindow messages first, a
// window four times wider while none of them completes a record. It
// returns the last complete record before end and the union of the After
// sets of the complete records it read. It never scans more than it must:
// records do not interleave, so the last complete group in a window is the
// last before end.
func (k *Kafka) tail(ctx context.Context, first, end int64) (last Record, seen repl.GTIDSet, found bool, err error) {
	for window := int64(kafkaTailWindow); ; window *= 4 {
		start := max(first, end-window)
		last, seen, found, err = k.scan(ctx, start, end)
		if err != nil || found || start == first {
			return last, seen, found, err
		}
	}
}

// scan reads [start, end) and returns its last complete record and the
// union of the After sets of its complete records.
func (k *Kafka) scan(ctx context.Context, start, end int64) (last Record, seen repl.GTIDSet, found bool, err error) {
	var asm assembler
	for pos := start; pos < end; {
		msgs, err := k.fetch(ctx, pos, end)
		if err != nil {
			return Record{}, seen, false, err
		}
		if len(msgs) == 0 {
			return Record{}, seen, false, fmt.Errorf("%s: no message at offset %d, below the high watermark %d", k, pos, end)
		}
		for _, m := range msgs {
			rec, ok, err := asm.add(m)
			if err != nil {
				return Record{}, seen, false, fmt.Errorf("%s: %w", k, err)
			}
			if ok {
				last, found = rec, true
				seen = seen.Union(rec.After)
			}
		}
		pos = msgs[len(msgs)-1].offset + 1
	}
	return last, seen, found, nil
}

// ReadFrom returns a reader at the first record whose offset is >= from,
// or at the first retained one. A from inside a chunk group starts at the
// next group. The reader drops duplicate transactions (Dedupe); started
// after the log's first record, it also drops the transactions of the
// records just before from (those tail reads back, as Last does), so that
// a reader resumed at the offset after a record it read does not return
// duplicates of records before that offset.
func (k *Kafka) ReadFrom(ctx context.Context, from int64) (Reader, error) {
	if err := k.check(ctx); err != nil {
		return nil, err
	}
	first, next, err := k.offsets(ctx)
	if err != nil {
		return nil, err
	}
	r := &kafkaReader{k: k, pos: max(from, first), asm: assembler{log: k.log, cluster: k.opts.Cluster}}
	if r.pos > first {
		if _, r.skip, _, err = k.tail(ctx, first, min(r.pos, next)); err != nil {
			return nil, err
		}
	}
	return Dedupe(r), nil
}

// Close releases the store's connections. Readers return ErrClosed
// afterwards; a second Close does nothing.
func (k *Kafka) Close() error {
	if k.closed.Swap(true) {
		return nil
	}
	k.transport.CloseIdleConnections()
	return nil
}

// Topic returns the store's topic.
func (k *Kafka) Topic() string { return k.opts.Topic }

// String names the store for logs and errors.
func (k *Kafka) String() string {
	return "capture kafka topic " + k.opts.Topic
}
