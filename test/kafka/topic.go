package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// readyTopic is the topic WaitReady produces to.
const readyTopic = "recoup-ready"

// requestTimeout bounds one request to the broker.
const requestTimeout = 10 * time.Second

// pollInterval is the pause between readiness and metadata polls.
const pollInterval = 200 * time.Millisecond

// newClient returns a client with its own connection pool, so that no
// connection to a stopped broker outlives a restart; close it when done.
func newClient(addr string) (*kafka.Client, func()) {
	tr := &kafka.Transport{}
	return &kafka.Client{Addr: kafka.TCP(addr), Timeout: requestTimeout, Transport: tr}, tr.CloseIdleConnections
}

// WaitReady polls the broker at addr until it creates (or already has) the
// topic recoup-ready and accepts a produce to it with acks=all, or ctx ends.
func WaitReady(ctx context.Context, addr string) error {
	c, closeClient := newClient(addr)
	defer closeClient()
	var last error
	for {
		if last = probe(ctx, c); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker %s not ready: %w (last error: %v)", addr, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

func probe(ctx context.Context, c *kafka.Client) error {
	if err := createTopic(ctx, c, readyTopic); err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return err
	}
	resp, err := c.Produce(ctx, &kafka.ProduceRequest{
		Topic:        readyTopic,
		Partition:    0,
		RequiredAcks: kafka.RequireAll,
		Records:      kafka.NewRecordReader(kafka.Record{Value: kafka.NewBytes([]byte("ready"))}),
	})
	if err != nil {
		return fmt.Errorf("producing to %s: %w", readyTopic, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("producing to %s: %w", readyTopic, resp.Error)
	}
	return nil
}

// createTopic creates a topic with one partition and replication factor 1.
func createTopic(ctx context.Context, c *kafka.Client, name string) error {
	resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: name, NumPartitions: 1, ReplicationFactor: 1}},
	})
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", name, err)
	}
	if err := resp.Errors[name]; err != nil {
		return fmt.Errorf("creating topic %s: %w", name, err)
	}
	return nil
}

// waitLeader polls metadata until the topic's partition 0 has a leader.
func waitLeader(ctx context.Context, c *kafka.Client, name string) error {
	var last error
	for {
		if last = hasLeader(ctx, c, name); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for a leader of %s: %w (last error: %v)", name, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

func hasLeader(ctx context.Context, c *kafka.Client, name string) error {
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{name}})
	if err != nil {
		return fmt.Errorf("reading metadata: %w", err)
	}
	for _, tp := range md.Topics {
		if tp.Name != name {
			continue
		}
		if tp.Error != nil {
			return tp.Error
		}
		for _, p := range tp.Partitions {
			if p.ID == 0 && p.Error == nil && p.Leader.Host != "" {
				return nil
			}
		}
		return errors.New("partition 0 has no leader yet")
	}
	return errors.New("topic not in metadata yet")
}

// NewTopic creates a fresh topic with one partition and replication factor 1,
// waits until it has a leader, and deletes it when t ends. The name is derived
// from t.Name() plus a random suffix.
func (b *Server) NewTopic(t testing.TB) string {
	t.Helper()
	name := topicName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 2*requestTimeout)
	defer cancel()
	c, closeClient := newClient(b.addr)
	defer closeClient()
	if err := createTopic(ctx, c, name); err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	if err := waitLeader(ctx, c, name); err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	t.Cleanup(func() { b.deleteTopic(t, name) })
	return name
}

func (b *Server) deleteTopic(t testing.TB, name string) {
	t.Helper()
	if b.proc != nil && !b.proc.running() {
		t.Logf("kafkatest: broker %s is stopped; topic %s goes with its data dir", b.addr, name)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	c, closeClient := newClient(b.addr)
	defer closeClient()
	resp, err := c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{name}})
	if err == nil {
		err = resp.Errors[name]
	}
	if err != nil {
		t.Errorf("kafkatest: deleting topic %s: %v", name, err)
	}
}

// topicName turns a test name into a legal, unique topic name
// ([a-zA-Z0-9._-], at most 249 characters).
func topicName(testName string) string {
	var sb strings.Builder
	sb.WriteString("t-")
	for _, r := range testName {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			sb.WriteRune(r)
		default:
			sb.WriteByte('-')
		}
		if sb.Len() >= 100 {
			break
		}
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix) // crypto/rand.Read never fails
	return sb.String() + "-" + hex.EncodeToString(suffix)
}
