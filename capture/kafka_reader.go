package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/recoup-dev/recoup/repl"
)

// kafkaFetchBytes is the size a fetch asks for, at least; the broker
// returns at least one whole batch even when it is larger.
const kafkaFetchBytes = 4 << 20

// kafkaMessage is what readers keep of one fetched message.
type kafkaMessage struct {
	offset        int64
	chunk, chunks int    // 1-based position in its group, and group size
	id            string // record id shared by a group's chunks
	value         []byte
}

// fetch returns the messages at offsets from and on, below end when end
// is >= 0, as many as one fetch brings: none when from is at or past the
// high watermark. It wraps ErrNotRetained when from is below the log start.
func (k *Kafka) fetch(ctx context.Context, from, end int64) ([]kafkaMessage, error) {
	resp, err := k.client.Fetch(ctx, &kafka.FetchRequest{
		Topic:     k.opts.Topic,
		Partition: 0,
		Offset:    from,
		MinBytes:  0, // answer at once: Next returns io.EOF at the end
		MaxBytes:  int64(max(kafkaFetchBytes, k.opts.MaxMessageBytes)),
		MaxWait:   10 * time.Millisecond,
	})
	if err != nil {
		k.transport.CloseIdleConnections()
		return nil, fmt.Errorf("%s: fetching at offset %d: %w", k, from, err)
	}
	if errors.Is(resp.Error, kafka.OffsetOutOfRange) {
		return nil, k.outOfRange(ctx, from)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("%s: fetching at offset %d: %w", k, from, resp.Error)
	}
	var msgs []kafkaMessage
	for {
		r, err := resp.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading messages fetched at offset %d: %w", k, from, err)
		}
		if r.Offset < from { // a batch starts before the offset asked for
			continue
		}
		if end >= 0 && r.Offset >= end {
			return msgs, nil
		}
		m, err := readMessage(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		msgs = append(msgs, m)
	}
}

// outOfRange tells why a fetch at from was refused: from is past the end
// (nil: nothing to read yet) or no longer retained.
func (k *Kafka) outOfRange(ctx context.Context, from int64) error {
	first, next, err := k.offsets(ctx)
	if err != nil {
		return err
	}
	if from >= next {
		return nil
	}
	if from < first {
		return fmt.Errorf("%s: offset %d: %w (the log now starts at %d)", k, from, ErrNotRetained, first)
	}
	return fmt.Errorf("%s: offset %d refused as out of range, but the log holds %d to %d", k, from, first, next)
}

// readMessage copies the value of r and parses its chunk headers.
func readMessage(r *kafka.Record) (kafkaMessage, error) {
	m := kafkaMessage{offset: r.Offset}
	var format, chunk []byte
	for _, h := range r.Headers {
		switch h.Key {
		case headerFormat:
			format = h.Value
		case headerChunk:
			chunk = h.Value
		case headerRecordID:
			m.id = string(h.Value)
		}
	}
	if string(format) != kafkaFormat {
		return m, fmt.Errorf("message at offset %d has format header %q, want %q: not a recoup capture message: %w",
			r.Offset, format, kafkaFormat, ErrCorrupt)
	}
	var err error
	if m.chunk, m.chunks, err = parseChunk(string(chunk)); err != nil {
		return m, fmt.Errorf("message at offset %d: %w", r.Offset, err)
	}
	if m.id == "" {
		return m, fmt.Errorf("message at offset %d has no %s header: %w", r.Offset, headerRecordID, ErrCorrupt)
	}
	if r.Value != nil {
		m.value, err = io.ReadAll(r.Value)
		_ = r.Value.Close() // an in-memory buffer: closing cannot fail
		if err != nil {
			return m, fmt.Errorf("reading the value of the message at offset %d: %w", r.Offset, err)
		}
	}
	return m, nil
}

// parseChunk parses a chunk header, "i/n" with 1 <= i <= n.
func parseChunk(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(a)
	}
	if ok && err == nil {
		n, err = strconv.Atoi(b)
	}
	if !ok || err != nil || i < 1 || i > n {
		return 0, 0, fmt.Errorf("%s header %q is not i/n with 1 <= i <= n: %w", headerChunk, s, ErrCorrupt)
	}
	return i, n, nil
}

// assembler rebuilds records from messages read in log order. Chunk
// groups do not interleave: a message that does not continue the pending
// group ends it. A group dropped that way, or a chunk whose group start
// was not read, yields nothing.
type assembler struct {
	log     *slog.Logger // where dropped groups are reported; nil: not reported
	cluster string

	id     string
	first  int64 // offset of the pending group's first chunk
	chunks int
	parts  [][]byte
}

// add takes the next message; it returns the record m completes, if any.
// A complete group that does not decode is an error wrapping ErrCorrupt.
func (a *assembler) add(m kafkaMessage) (Record, bool, error) {
	if m.chunk == 1 {
		a.drop(m.offset)
		a.id, a.first, a.chunks = m.id, m.offset, m.chunks
	} else if len(a.parts) == 0 || m.id != a.id || m.chunks != a.chunks || m.chunk != len(a.parts)+1 {
		a.drop(m.offset)
		return Record{}, false, nil
	}
	a.parts = append(a.parts, m.value)
	if len(a.parts) < a.chunks {
		return Record{}, false, nil
	}
	data := a.parts[0]
	if len(a.parts) > 1 {
		data = bytes.Join(a.parts, nil)
	}
	first := a.first
	a.parts = nil
	rec, err := DecodeRecord(data)
	if err != nil {
		return Record{}, false, fmt.Errorf("record at offset %d: %w", first, err)
	}
	rec.Offset = first
	return rec, true, nil
}

// drop forgets the pending group, reporting it when it had chunks.
func (a *assembler) drop(at int64) {
	if len(a.parts) > 0 && a.log != nil {
		a.log.Info("capture kafka: dropped an incomplete chunk group, rewritten after a write error",
			"cluster", a.cluster, "offset", a.first, "chunks", len(a.parts), "of", a.chunks, "next_offset", at)
	}
	a.parts = nil
}

// kafkaReader reads a Kafka store in order from pos. It holds the messages
// of the last fetch not yet used and the chunks of a group still being
// written, so Next after io.EOF continues where it stopped.
type kafkaReader struct {
	k      *Kafka
	pos    int64        // offset of the next message to fetch
	skip   repl.GTIDSet // transactions to drop until a record passes
	buf    []kafkaMessage
	asm    assembler
	closed bool
}

// Next implements Reader: it returns io.EOF when every complete record up
// to the high watermark was returned.
func (r *kafkaReader) Next(ctx context.Context) (Record, error) {
	if r.closed {
		return Record{}, fmt.Errorf("%s: reader: %w", r.k, ErrClosed)
	}
	if err := r.k.check(ctx); err != nil {
		return Record{}, err
	}
	for {
		for len(r.buf) > 0 {
			m := r.buf[0]
			r.buf[0] = kafkaMessage{} // let the value go once assembled
			r.buf = r.buf[1:]
			rec, ok, err := r.asm.add(m)
			if err != nil {
				return Record{}, fmt.Errorf("%s: %w", r.k, err)
			}
			if !ok || rec.Kind == KindTxn && r.skip.Contains(rec.GTID) {
				continue
			}
			r.skip = repl.GTIDSet{} // Dedupe takes over from here
			return rec, nil
		}
		msgs, err := r.k.fetch(ctx, r.pos, -1)
		if err != nil {
			return Record{}, err
		}
		if len(msgs) == 0 {
			return Record{}, io.EOF
		}
		r.buf = msgs
		r.pos = msgs[len(msgs)-1].offset + 1
	}
}

// Close releases the reader's buffers.
func (r *kafkaReader) Close() error {
	r.closed = true
	r.buf, r.asm.parts = nil, nil
	return nil
}
