// Command kafkaprobe waits until the Kafka broker at -addr accepts a produce
// with acks=all (see kafkatest.WaitReady). kafka.sh start runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	kafkatest "github.com/recoup-dev/recoup/test/kafka"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9092", "broker bootstrap address")
	timeout := flag.Duration("timeout", 90*time.Second, "how long to wait")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := kafkatest.WaitReady(ctx, *addr); err != nil {
		fmt.Fprintf(os.Stderr, "kafkaprobe: %v\n", err)
		os.Exit(1)
	}
}
