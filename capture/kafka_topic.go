package capture

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Topic configs OpenKafka sets and checks.
const (
	configMaxMessageBytes = "max.message.bytes"
	configCleanupPolicy   = "cleanup.policy"
	configMinInsync       = "min.insync.replicas"
)

// kafkaPollInterval is the pause between metadata polls while a created
// topic gets its leader.
const kafkaPollInterval = 100 * time.Millisecond

// ensureTopic creates the topic when it is missing and checks it. It uses
// fresh transports: kafka-go answers metadata requests from a transport's
// cache.
func (k *Kafka) ensureTopic(ctx context.Context) error {
	t, err := k.topicMetadata(ctx)
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		if err := k.createTopic(ctx); err != nil {
			return err
		}
		t, err = k.waitLeader(ctx)
	}
	if err != nil {
		return err
	}
	if n := len(t.Partitions); n != 1 {
		return fmt.Errorf("%s has %d partitions: a capture log needs exactly one, for a total order of its records; "+
			"use a new single-partition topic", k, n)
	}
	return k.checkConfig(ctx, len(t.Partitions[0].Replicas))
}

// adminClient returns a client on a transport of its own; call the
// returned function when done.
func (k *Kafka) adminClient() (*kafka.Client, func()) {
	tr := newKafkaTransport(k.opts, []string{k.opts.Topic})
	return &kafka.Client{Addr: kafka.TCP(k.opts.Brokers...), Timeout: k.opts.RequestTimeout, Transport: tr}, tr.CloseIdleConnections
}

// topicMetadata returns the topic's metadata, or an error wrapping
// kafka.UnknownTopicOrPartition when it does not exist.
func (k *Kafka) topicMetadata(ctx context.Context) (kafka.Topic, error) {
	c, done := k.adminClient()
	defer done()
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{k.opts.Topic}})
	if err != nil {
		return kafka.Topic{}, fmt.Errorf("%s: reading metadata: %w", k, err)
	}
	for _, t := range md.Topics {
		if t.Name != k.opts.Topic {
			continue
		}
		if t.Error != nil {
			return kafka.Topic{}, fmt.Errorf("%s: reading metadata: %w", k, t.Error)
		}
		return t, nil
	}
	return kafka.Topic{}, fmt.Errorf("%s: reading metadata: %w", k, kafka.UnknownTopicOrPartition)
}

// createTopic creates the topic with one partition. Another process
// creating it at the same time is not an error: the checks that follow
// apply to whichever creation won.
func (k *Kafka) createTopic(ctx context.Context) error {
	configs := []kafka.ConfigEntry{
		{ConfigName: configMaxMessageBytes, ConfigValue: strconv.Itoa(k.opts.MaxMessageBytes)},
		{ConfigName: configCleanupPolicy, ConfigValue: "delete"},
	}
	if k.opts.MinInsyncReplicas > 0 {
		configs = append(configs, kafka.ConfigEntry{ConfigName: configMinInsync, ConfigValue: strconv.Itoa(k.opts.MinInsyncReplicas)})
	}
	for name, value := range k.opts.TopicConfig {
		switch name {
		case configMaxMessageBytes, configCleanupPolicy, configMinInsync:
			return fmt.Errorf("%s: TopicConfig cannot set %s: use the KafkaOptions field", k, name)
		}
		configs = append(configs, kafka.ConfigEntry{ConfigName: name, ConfigValue: value})
	}
	c, done := k.adminClient()
	defer done()
	resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: k.opts.Topic, NumPartitions: 1, ReplicationFactor: k.opts.ReplicationFactor, ConfigEntries: configs,
	}}})
	if err == nil {
		err = resp.Errors[k.opts.Topic]
	}
	if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("%s: creating the topic (1 partition, replication factor %d): %w", k, k.opts.ReplicationFactor, err)
	}
	k.log.Info("capture kafka: created topic", "cluster", k.opts.Cluster, "topic", k.opts.Topic,
		"replication_factor", k.opts.ReplicationFactor, "max_message_bytes", k.opts.MaxMessageBytes)
	return nil
}

// waitLeader polls metadata until every partition of the new topic has a
// leader, or ctx ends.
func (k *Kafka) waitLeader(ctx context.Context) (kafka.Topic, error) {
	for {
		t, err := k.topicMetadata(ctx)
		if err == nil {
			err = leaderless(t)
		}
		if err == nil {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return kafka.Topic{}, fmt.Errorf("%s: waiting for the created topic's leader: %w (last error: %v)", k, ctx.Err(), err)
		case <-time.After(kafkaPollInterval):
		}
	}
}

func leaderless(t kafka.Topic) error {
	if len(t.Partitions) == 0 {
		return errors.New("no partitions yet")
	}
	for _, p := range t.Partitions {
		if p.Error != nil {
			return fmt.Errorf("partition %d: %w", p.ID, p.Error)
		}
		if p.Leader.Host == "" {
			return fmt.Errorf("partition %d has no leader yet", p.ID)
		}
	}
	return nil
}

// checkConfig refuses a compacted topic (compaction by key, the cluster,
// would delete all but the last record) and one whose max.message.bytes is
// below MaxMessageBytes; it warns about a replication that does not
// survive a broker loss.
func (k *Kafka) checkConfig(ctx context.Context, replicas int) error {
	c, done := k.adminClient()
	defer done()
	resp, err := c.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: k.opts.Topic,
		ConfigNames: []string{configMaxMessageBytes, configCleanupPolicy, configMinInsync},
	}}})
	if err != nil {
		return fmt.Errorf("%s: reading the topic's configuration: %w", k, err)
	}
	configs := map[string]string{}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return fmt.Errorf("%s: reading the topic's configuration: %w", k, r.Error)
		}
		for _, e := range r.ConfigEntries {
			configs[e.ConfigName] = e.ConfigValue
		}
	}
	if p := configs[configCleanupPolicy]; strings.Contains(p, "compact") {
		return fmt.Errorf("%s has cleanup.policy=%s: compaction would delete records; a capture log needs cleanup.policy=delete", k, p)
	}
	maxBytes, err := strconv.Atoi(configs[configMaxMessageBytes])
	if err != nil {
		return fmt.Errorf("%s: max.message.bytes %q: %w", k, configs[configMaxMessageBytes], err)
	}
	if maxBytes < k.opts.MaxMessageBytes {
		return fmt.Errorf("%s accepts messages up to %d bytes (max.message.bytes), less than MaxMessageBytes %d: "+
			"raise the topic's max.message.bytes or lower MaxMessageBytes", k, maxBytes, k.opts.MaxMessageBytes)
	}
	minInsync, _ := strconv.Atoi(configs[configMinInsync]) // absent or garbled reads as 0: warned below
	if replicas < 3 || minInsync < 2 {
		k.log.Warn("capture kafka: topic does not survive the loss of a broker; production needs 3 replicas and min.insync.replicas=2",
			"cluster", k.opts.Cluster, "topic", k.opts.Topic, "replicas", replicas, "min_insync_replicas", minInsync)
	}
	return nil
}
