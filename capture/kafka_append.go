package capture

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Message headers. Readers need only format, chunk and record-id; the
// others describe the record to people and tools reading the topic.
const (
	headerFormat     = "format"
	headerKind       = "kind"
	headerCluster    = "cluster"
	headerMaster     = "master"
	headerGTID       = "gtid"
	headerServerID   = "server-id"
	headerStart      = "start"
	headerEnd        = "end"
	headerCommitTime = "commit-time"
	headerChunk      = "chunk"
	headerRecordID   = "record-id"
)

// kafkaFormat is the format header of every message: the message layout
// (EncodeRecord bytes, chunked as the chunk and record-id headers say).
const kafkaFormat = "recoup/1"

// Size estimates, upper bounds of Kafka's v2 record batch framing: the
// batch header, one record's fixed fields (length, attributes, timestamp
// and offset deltas, key and value lengths, header count, all varints),
// one header's two length varints, and the chunk and record-id headers.
const (
	kafkaBatchOverhead  = 61
	kafkaRecordOverhead = 40
	kafkaHeaderOverhead = 10
	kafkaChunkHeaders   = 128
)

// Append writes recs in order: it encodes them all first (nothing is
// written when one cannot be encoded), splits records larger than a
// message into chunks, and sends one produce request per MaxMessageBytes
// of messages, each one record batch, appended atomically by the broker.
// It returns once every request is acknowledged by all in-sync replicas.
// On error it stops at once: an earlier request may be durable, and the
// failed one may be too. It never retries; see Kafka.
func (k *Kafka) Append(ctx context.Context, recs ...Record) error {
	if err := k.check(ctx); err != nil {
		return err
	}
	batches, err := k.batches(recs)
	if err != nil {
		return err
	}
	k.wmu.Lock()
	defer k.wmu.Unlock()
	for i, b := range batches {
		if err := k.check(ctx); err != nil {
			return err
		}
		if err := k.produce(ctx, b); err != nil {
			// A connection to a restarted broker stays in the pool:
			// drop them, so that the caller's retry dials again.
			k.transport.CloseIdleConnections()
			return fmt.Errorf("%s: append: produce request %d of %d (%d messages): %w", k, i+1, len(batches), len(b), err)
		}
	}
	return nil
}

// produce sends one record batch to partition 0 with acks=all.
func (k *Kafka) produce(ctx context.Context, msgs []kafka.Record) error {
	ctx, cancel := context.WithTimeout(ctx, k.opts.RequestTimeout)
	defer cancel()
	resp, err := k.client.Produce(ctx, &kafka.ProduceRequest{
		Topic:        k.opts.Topic,
		Partition:    0,
		RequiredAcks: kafka.RequireAll,
		Records:      kafka.NewRecordReader(msgs...),
	})
	if err != nil {
		return err
	}
	if resp.Error != nil {
		return resp.Error
	}
	if len(resp.RecordErrors) > 0 {
		return fmt.Errorf("%d messages refused: %v", len(resp.RecordErrors), resp.RecordErrors)
	}
	return nil
}

// batches turns recs into messages grouped in produce batches of at most
// MaxMessageBytes (by estimate) each.
func (k *Kafka) batches(recs []Record) ([][]kafka.Record, error) {
	var (
		out  [][]kafka.Record
		cur  []kafka.Record
		size = kafkaBatchOverhead
	)
	now := time.Now()
	for i, r := range recs {
		msgs, sizes, err := k.messages(r, now)
		if err != nil {
			return nil, fmt.Errorf("%s: append: record %d of %d: %w", k, i+1, len(recs), err)
		}
		for j, m := range msgs {
			if len(cur) > 0 && size+sizes[j] > k.opts.MaxMessageBytes {
				out, cur, size = append(out, cur), nil, kafkaBatchOverhead
			}
			cur = append(cur, m)
			size += sizes[j]
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// messages encodes r as one message, or as chunks when it is larger than
// a message; sizes are the messages' estimated sizes in a batch.
func (k *Kafka) messages(r Record, now time.Time) (msgs []kafka.Record, sizes []int, err error) {
	data, err := EncodeRecord(r)
	if err != nil {
		return nil, nil, err
	}
	headers := k.recordHeaders(r)
	overhead := kafkaRecordOverhead + len(k.opts.Cluster) + kafkaChunkHeaders
	for _, h := range headers {
		overhead += kafkaHeaderOverhead + len(h.Key) + len(h.Value)
	}
	room := k.opts.MaxMessageBytes - kafkaBatchOverhead - overhead
	if room < minKafkaMessageBytes/2 {
		return nil, nil, fmt.Errorf("headers of %d bytes leave no room for data in a %d-byte message", overhead, k.opts.MaxMessageBytes)
	}
	n := max(1, (len(data)+room-1)/room)
	id := []byte(k.idPrefix + "-" + strconv.FormatUint(k.seq.Add(1), 10))
	for i := range n {
		chunk := data[i*room : min((i+1)*room, len(data))]
		h := append(headers[:len(headers):len(headers)],
			kafka.Header{Key: headerChunk, Value: []byte(strconv.Itoa(i+1) + "/" + strconv.Itoa(n))},
			kafka.Header{Key: headerRecordID, Value: id})
		msgs = append(msgs, kafka.Record{
			Time:    now,
			Key:     kafka.NewBytes([]byte(k.opts.Cluster)),
			Value:   kafka.NewBytes(chunk),
			Headers: h,
		})
		sizes = append(sizes, overhead+len(chunk))
	}
	return msgs, sizes, nil
}

// recordHeaders returns the headers every message of r carries, without
// the chunk and record-id headers.
func (k *Kafka) recordHeaders(r Record) []kafka.Header {
	h := []kafka.Header{
		{Key: headerFormat, Value: []byte(kafkaFormat)},
		{Key: headerKind, Value: []byte(r.Kind.String())},
		{Key: headerCluster, Value: []byte(k.opts.Cluster)},
	}
	add := func(key, value string) {
		if value != "" {
			h = append(h, kafka.Header{Key: key, Value: []byte(value)})
		}
	}
	add(headerMaster, r.Master)
	if !r.GTID.IsZero() {
		add(headerGTID, r.GTID.String())
	}
	if r.ServerID != 0 {
		add(headerServerID, strconv.FormatUint(uint64(r.ServerID), 10))
	}
	if r.Start.File != "" {
		add(headerStart, r.Start.File+":"+strconv.FormatUint(uint64(r.Start.Pos), 10))
	}
	if r.End.File != "" {
		add(headerEnd, r.End.File+":"+strconv.FormatUint(uint64(r.End.Pos), 10))
	}
	if !r.CommitTime.IsZero() {
		add(headerCommitTime, r.CommitTime.UTC().Format(time.RFC3339Nano))
	}
	return h
}
