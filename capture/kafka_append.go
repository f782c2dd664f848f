package capture

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/recoup-dev/recoup/repl"
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
	hint := 0
	for _, r := range recs {
		hint += encodedSizeHint(r) + kafkaHeadersHint
	}
	enc := kafkaEncoder{buf: make([]byte, 0, hint)}
	now := time.Now()
	for i, r := range recs {
		msgs, sizes, err := k.messages(&enc, r, now)
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

// kafkaHeadersHint is room for one record's header values in a
// kafkaEncoder's buffer.
const kafkaHeadersHint = 160

// kafkaEncoder holds the bytes of one Append's messages (records and
// header values), appended to one buffer and sliced from it: one
// allocation per Append instead of several per record. A slice taken
// before the buffer grew keeps pointing at the old array, which stays
// valid and unchanged.
type kafkaEncoder struct{ buf []byte }

// bytes appends with fn and returns what fn appended.
func (e *kafkaEncoder) bytes(fn func([]byte) []byte) []byte {
	start := len(e.buf)
	e.buf = fn(e.buf)
	return e.buf[start:len(e.buf):len(e.buf)]
}

// text appends s and returns its bytes.
func (e *kafkaEncoder) text(s string) []byte {
	return e.bytes(func(b []byte) []byte { return append(b, s...) })
}

// record appends r's encoding and returns it.
func (e *kafkaEncoder) record(r Record) ([]byte, error) {
	start := len(e.buf)
	b, err := appendRecord(e.buf, r)
	if err != nil {
		return nil, err
	}
	e.buf = b
	return b[start:len(b):len(b)], nil
}

// messages encodes r as one message, or as chunks when it is larger than
// a message; sizes are the messages' estimated sizes in a batch.
func (k *Kafka) messages(enc *kafkaEncoder, r Record, now time.Time) (msgs []kafka.Record, sizes []int, err error) {
	data, err := enc.record(r)
	if err != nil {
		return nil, nil, err
	}
	headers := k.recordHeaders(enc, r)
	overhead := kafkaRecordOverhead + len(k.opts.Cluster) + kafkaChunkHeaders
	for _, h := range headers {
		overhead += kafkaHeaderOverhead + len(h.Key) + len(h.Value)
	}
	room := k.opts.MaxMessageBytes - kafkaBatchOverhead - overhead
	if room < minKafkaMessageBytes/2 {
		return nil, nil, fmt.Errorf("headers of %d bytes leave no room for data in a %d-byte message", overhead, k.opts.MaxMessageBytes)
	}
	n := max(1, (len(data)+room-1)/room)
	seq := k.seq.Add(1)
	id := enc.bytes(func(b []byte) []byte {
		return strconv.AppendUint(append(append(b, k.idPrefix...), '-'), seq, 10)
	})
	for i := range n {
		chunk := data[i*room : min((i+1)*room, len(data))]
		part := enc.bytes(func(b []byte) []byte {
			return strconv.AppendInt(append(strconv.AppendInt(b, int64(i+1), 10), '/'), int64(n), 10)
		})
		h := append(headers[:len(headers):len(headers)],
			kafka.Header{Key: headerChunk, Value: part},
			kafka.Header{Key: headerRecordID, Value: id})
		msgs = append(msgs, kafka.Record{
			Time:    now,
			Key:     kafka.NewBytes(k.key),
			Value:   kafka.NewBytes(chunk),
			Headers: h,
		})
		sizes = append(sizes, overhead+len(chunk))
	}
	return msgs, sizes, nil
}

// recordHeaders returns the headers every message of r carries, without
// the chunk and record-id headers. Their values are read-only: the
// constant ones are shared by every message.
func (k *Kafka) recordHeaders(enc *kafkaEncoder, r Record) []kafka.Header {
	h := make([]kafka.Header, 3, 12)
	h[0] = kafka.Header{Key: headerFormat, Value: k.format}
	h[1] = kafka.Header{Key: headerKind, Value: enc.text(r.Kind.String())}
	h[2] = kafka.Header{Key: headerCluster, Value: k.key}
	add := func(key string, value []byte) {
		if len(value) > 0 {
			h = append(h, kafka.Header{Key: key, Value: value})
		}
	}
	if r.Master != "" {
		add(headerMaster, enc.text(r.Master))
	}
	if !r.GTID.IsZero() {
		add(headerGTID, enc.text(r.GTID.String()))
	}
	if r.ServerID != 0 {
		add(headerServerID, enc.bytes(func(b []byte) []byte { return strconv.AppendUint(b, uint64(r.ServerID), 10) }))
	}
	pos := func(p repl.BinlogPos) []byte {
		return enc.bytes(func(b []byte) []byte { return strconv.AppendUint(append(append(b, p.File...), ':'), uint64(p.Pos), 10) })
	}
	if r.Start.File != "" {
		add(headerStart, pos(r.Start))
	}
	if r.End.File != "" {
		add(headerEnd, pos(r.End))
	}
	if !r.CommitTime.IsZero() {
		add(headerCommitTime, enc.bytes(func(b []byte) []byte { return r.CommitTime.UTC().AppendFormat(b, time.RFC3339Nano) }))
	}
	return h
}
