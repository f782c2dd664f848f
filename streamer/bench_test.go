package streamer

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// timedStore notes when each transaction became durable.
type timedStore struct {
	capture.Store
	mu      sync.Mutex
	durable map[repl.GTID]time.Time
	appends int
	took    []time.Duration
}

func (s *timedStore) Append(ctx context.Context, recs ...capture.Record) error {
	start := time.Now()
	if err := s.Store.Append(ctx, recs...); err != nil {
		return err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appends++
	s.took = append(s.took, now.Sub(start))
	for _, r := range recs {
		if r.Kind == capture.KindTxn {
			s.durable[r.GTID] = now
		}
	}
	return nil
}

// BenchmarkCommitToDurable measures the time from a client's COMMIT
// returning to the transaction being durable in a local store (fsynced),
// with 8 connections paced to 2,000 single-row transactions per second
// for 3 seconds per iteration. Run with -benchtime=1x.
func BenchmarkCommitToDurable(b *testing.B) {
	inst := sandbox.StartInstance(b, nil)
	db := inst.DB(b)
	execAll(b, db, "CREATE DATABASE app", "CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, s VARCHAR(64))")
	store := &timedStore{Store: openStore(b, b.TempDir()), durable: map[repl.GTID]time.Time{}}
	defer store.Close()
	r := startStreamer(b, capConfig(inst), store)
	waitCaptured(b, r, inst)
	const rate, conns, seconds = 2000, 8, 3
	commits := map[int64]time.Time{}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		paceLoad(b, db, rate, conns, seconds*time.Second, commits)
		waitCaptured(b, r, inst)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	lat := commitLatencies(b, store, commits)
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(len(commits))/elapsed.Seconds(), "txn/s")
	b.ReportMetric(float64(len(commits))/float64(store.appends), "txn/append")
	slices.Sort(store.took)
	b.ReportMetric(float64(store.took[len(store.took)*99/100].Microseconds())/1000, "append-p99-ms")
}

// commitLatencies matches each inserted row (by id) to the record that
// holds it and returns durable time minus commit time per transaction.
func commitLatencies(b *testing.B, store *timedStore, commits map[int64]time.Time) []time.Duration {
	var lat []time.Duration
	for _, rec := range txnRecords(readLog(b, store)) {
		txn, err := DecodeTxn(rec)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range txn.Changes {
			if c.Table.Name != "t" || c.After == nil {
				continue
			}
			if at, ok := commits[c.After[0].Int()]; ok {
				lat = append(lat, max(store.durable[rec.GTID].Sub(at), 0))
			}
		}
	}
	if len(lat) != len(commits) {
		b.Fatalf("matched %d of %d commits", len(lat), len(commits))
	}
	return lat
}

// paceLoad commits from conns connections at rate transactions per second
// for d, noting when each row's commit returned, by its id.
func paceLoad(b *testing.B, db *sql.DB, rate, conns int, d time.Duration, commits map[int64]time.Time) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	interval := time.Duration(conns) * time.Second / time.Duration(rate)
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
				res, err := db.Exec("INSERT INTO app.t (v, s) VALUES (?, ?)", c, "some payload of a row")
				at := time.Now()
				if err != nil {
					b.Error(err)
					return
				}
				id, err := res.LastInsertId()
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				commits[id] = at
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
