package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"
)

const mb = 1e6

// print shows the catch-up figures: the raw pull, then each store's
// capture with its ratio to the raw pull run just before it.
func (r *catchUpResult) print(e *env) {
	fmt.Printf("\nCATCH-UP THROUGHPUT: %d transactions of sysbench oltp_write_only (%d threads, %s txn/s while writing), "+
		"%.1f MB of binlog, written with capture stopped; then timed from streamer start until durable\n",
		r.txns, e.o.threads, r.sysbenchTPS, float64(r.rangeBytes)/mb)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\tseconds\ttxn/s\trows/s\tMB/s\tcapture/raw\t")
	for _, run := range r.runs {
		raw := run.raw.Seconds()
		fmt.Fprintf(w, "mariadb-binlog --raw (before %s)\t%.3f\t%.0f\t%.0f\t%.1f\t\t\n", run.kind, raw,
			float64(r.txns)/raw, float64(run.rows)/raw, float64(run.rawBytes)/mb/raw)
		took := run.took.Seconds()
		fmt.Fprintf(w, "recoup capture -> %s\t%.3f\t%.0f\t%.0f\t%.1f\t%.2f\t\n", run.kind, took,
			float64(run.txns)/took, float64(run.rows)/took, float64(r.rangeBytes)/mb/took, raw/took)
	}
	w.Flush()
	for _, run := range r.runs {
		switch {
		case run.decodeError != nil:
			fmt.Printf("  %s: reading back the captured range failed: %v\n", run.kind, run.decodeError)
		case uint64(run.txns) != r.txns:
			fmt.Printf("  %s: read back %d transactions, the range has %d\n", run.kind, run.txns, r.txns)
		default:
			fmt.Printf("  %s: read back and decoded all %d transactions (%d rows, %.1f MB of raw events)\n",
				run.kind, run.txns, run.rows, float64(run.eventBytes)/mb)
		}
		if u := run.use; u.appends > 0 {
			fmt.Printf("  %s: %d appends of %.0f records on average; the store was busy %.0f%% of the catch-up; "+
				"the first append returned %.0f ms after the streamer's start\n", run.kind, u.appends,
				float64(u.records)/float64(u.appends), 100*u.busy.Seconds()/run.took.Seconds(),
				float64(u.first.Sub(run.began).Microseconds())/1000)
		}
		fmt.Printf("  %s: CPU time during the catch-up: %s (of %d cores x %.2f s); Go heap obtained from the OS: %.0f MB\n",
			run.kind, run.cpu, runtime.NumCPU(), run.took.Seconds(), float64(run.heapSys)/mb)
	}
	fmt.Println("  MB/s is binlog bytes of the range per second for both; capture/raw is raw time / capture time (target >= 0.8).")
}

// printLag shows the lag figures of each store.
func printLag(e *env, rs []lagResult) {
	fmt.Printf("\nCAPTURE LAG: paced load of %d txn/s for %v (%d connections; UPDATE + INSERT per transaction), "+
		"streamer running; lag = commit ack on the client -> record readable by a tailing reader on a second "+
		"store handle (polling every %v), matched by GTID\n", e.o.rate, e.o.lagFor, e.o.conns, tailPoll)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "store\ttxns\ttxn/s\tlag p50\tp90\tp99\tmax\tdurable p50\tp99\tcommit p50\tp99\t")
	for _, r := range rs {
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name(), r.txns, r.achieved,
			ms(pct(r.readable, 0.5)), ms(pct(r.readable, 0.9)), ms(pct(r.readable, 0.99)), ms(pct(r.readable, 1)),
			ms(pct(r.durable, 0.5)), ms(pct(r.durable, 0.99)), ms(pct(r.commit, 0.5)), ms(pct(r.commit, 0.99)))
	}
	w.Flush()
	for _, r := range rs {
		if r.retried > 0 {
			fmt.Printf("  %s: %d transactions became durable through an Append that returned an error (see streamer.log; "+
				"left out of the durable column)\n", r.name(), r.retried)
		}
		if r.preRead > 0 {
			fmt.Printf("  %s: %d transactions were readable by the second handle before the streamer's Append returned\n", r.name(), r.preRead)
		}
		switch {
		case r.semi:
			fmt.Printf("  %s: %d commits waited for the streamer's acknowledgement, %d went asynchronous "+
				"(the master's timeout); %d of %d transactions were durable before the client saw their commit ack\n",
				r.name(), r.yesTx, r.noTx, r.early, r.txns)
		case r.early > 0:
			fmt.Printf("  %s: %d transactions were durable before the client saw their commit ack (counted as 0)\n", r.name(), r.early)
		}
	}
	fmt.Println("  durable = Store.Append returned in the streamer; commit = BEGIN to COMMIT ack on the client. Target: lag p99 < 50 ms.")
	fmt.Printf("\nload average at the end: %s (figures from a machine shared with other work are noisy)\n", loadAverage())
}

// pct returns the q-quantile (nearest rank) of ds; it sorts ds.
func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[int(q*float64(len(ds)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// name is the store, and whether the streamer was semi-synchronous.
func (r lagResult) name() string {
	if r.semi {
		return r.kind + " semi-sync"
	}
	return r.kind
}
