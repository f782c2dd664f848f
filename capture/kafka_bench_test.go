package capture_test

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
	kafkatest "github.com/recoup-dev/recoup/test/kafka"
)

// BenchmarkKafkaAppend measures one Append (acks=all, one broker) of
// batches of 1, 10 and 100 contract records (about 0.7 KiB encoded each),
// and reports its latency percentiles and the throughput:
//
//	go test ./capture -run '^$' -bench KafkaAppend -benchtime 2000x
func BenchmarkKafkaAppend(b *testing.B) {
	broker := kafkatest.Broker(b)
	for _, batch := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			o := kafkaOptions(b, broker, newTopicName(b, broker), 0)
			o.Logger = slog.New(slog.DiscardHandler) // the replication warning is noise here
			s := openKafka(b, o)
			defer s.Close()
			recs := storetest.Records(0, int64(batch))
			size := 0
			for _, r := range recs {
				enc, err := capture.EncodeRecord(r)
				if err != nil {
					b.Fatalf("EncodeRecord: %v", err)
				}
				size += len(enc)
			}
			b.SetBytes(int64(size))
			lat := make([]time.Duration, 0, b.N)
			ctx := ctxKafka(b)
			for b.Loop() {
				start := time.Now()
				if err := s.Append(ctx, recs...); err != nil {
					b.Fatalf("Append: %v", err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			reportLatency(b, lat, batch)
		})
	}
}

func reportLatency(b *testing.B, lat []time.Duration, batch int) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat)*batch)/total.Seconds(), "records/s")
}
