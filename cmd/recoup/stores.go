package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/recoup-dev/recoup/capture"
)

// openStore opens a cluster's capture log as the config says. readOnly
// opens a local store without taking the writer's lock, so `recoup status`
// and `recoup log` work while `recoup stream` runs.
func openStore(ctx context.Context, c *Config, cluster string, readOnly bool, log *slog.Logger) (capture.Store, error) {
	switch c.Store.Kind {
	case "kafka":
		k, err := capture.OpenKafka(ctx, capture.KafkaOptions{
			Brokers: c.Store.Kafka.Brokers,
			Topic:   c.Store.Kafka.TopicPrefix + cluster,
			Cluster: cluster,
			Logger:  log,
		})
		if err != nil {
			return nil, fmt.Errorf("open kafka capture log of cluster %s: %w", cluster, err)
		}
		return k, nil
	default:
		dir := filepath.Join(c.Store.Local.Dir, cluster)
		if readOnly {
			l, err := capture.OpenLocalReadOnly(dir)
			if err != nil {
				return nil, fmt.Errorf("open capture log of cluster %s: %w", cluster, err)
			}
			return l, nil
		}
		l, err := capture.OpenLocal(dir, capture.LocalOptions{
			SegmentBytes:   c.Store.Local.SegmentBytes,
			RetentionBytes: c.Store.Local.RetentionBytes,
			RetentionAge:   c.Store.Local.RetentionAge,
			Logger:         log,
		})
		if err != nil {
			return nil, fmt.Errorf("open capture log of cluster %s: %w", cluster, err)
		}
		return l, nil
	}
}
