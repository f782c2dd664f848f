package capture_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
)

// BenchmarkLocalAppend measures durable appends of typical 1-row
// transaction records with group commit: one Append (one write, one
// fsync) per op of 1, 10 or 100 records. The store lives in b.TempDir(),
// or under $RECOUP_BENCH_DIR to measure another disk.
func BenchmarkLocalAppend(b *testing.B) {
	for _, batch := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			dir := b.TempDir()
			if d := os.Getenv("RECOUP_BENCH_DIR"); d != "" {
				var err error
				if dir, err = os.MkdirTemp(d, "bench"); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { os.RemoveAll(dir) })
			}
			l := openLocal(b, dir, capture.LocalOptions{})
			defer l.Close()
			recs := storetest.Records(0, int64(batch))
			var size int64
			for _, r := range recs {
				enc, err := capture.EncodeRecord(r)
				if err != nil {
					b.Fatal(err)
				}
				size += int64(len(enc)) + 8
			}
			b.SetBytes(size)
			ctx := context.Background()
			for b.Loop() {
				if err := l.Append(ctx, recs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
