package capture

import (
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

// Test-only access to Kafka's internals for the external test package.

// ChunkMessages returns the messages Append would write for r, in order,
// as kafka-go Writer messages: tests write part of a chunk group with a
// raw writer.
func (k *Kafka) ChunkMessages(r Record) ([]kafka.Message, error) {
	recs, _, err := k.messages(&kafkaEncoder{}, r, time.Now())
	if err != nil {
		return nil, err
	}
	out := make([]kafka.Message, len(recs))
	for i, rec := range recs {
		key, err := io.ReadAll(rec.Key)
		if err != nil {
			return nil, err
		}
		value, err := io.ReadAll(rec.Value)
		if err != nil {
			return nil, err
		}
		out[i] = kafka.Message{Key: key, Value: value, Headers: rec.Headers, Time: rec.Time}
	}
	return out, nil
}
