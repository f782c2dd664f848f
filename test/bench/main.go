// Command bench measures recoup's capture on real servers and prints the
// figures; it asserts nothing about time. `make bench` runs
//
//	go run ./test/bench capture
//
// from the repository root. It starts a MariaDB sandbox (test/sandbox) and,
// unless -stores leaves it out, a Kafka broker (test/kafka/kafka.sh run, or
// the broker at RECOUP_KAFKA_ADDR), then measures for each store:
//
//   - Catch-up throughput: sysbench oltp_write_only writes -txns
//     transactions while the streamer is stopped; the streamer is then
//     started and timed until its durable position holds them all
//     (transactions/s, rows/s, MB/s of binlog). Side by side, the same
//     binlog range is pulled by `mariadb-binlog --read-from-remote-server
//     --raw`, the physical limit of pulling binlog, and the ratio
//     capture/raw is printed (target >= 0.8). A freshly started Kafka
//     broker spends its first hundred megabytes compiling its produce
//     path (JIT): the Kafka catch-up is preceded by an unmeasured capture
//     of the same range into another topic (-warm-kafka=false: cold).
//
//   - Capture lag: a Go generator commits at a paced -rate (default 2,000
//     transactions/s) with the streamer running, noting each transaction's
//     commit-ack time and GTID; a tailing reader notes when each record
//     becomes readable in the store (the load starts once the streamer has
//     made a first transaction durable: capture is always-on in service,
//     its start-up is not counted). Lag = readable - commit ack, matched
//     by GTID; p50/p90/p99/max are printed (target p99 < 50 ms), with the
//     time to durable (Store.Append returned) for comparison.
//
//   - The same lag measure with the streamer as the semi-synchronous
//     replica the master waits for (-semi-sync, on by default): the commit
//     latency then includes capture, and the report counts the commits
//     made durable before their client saw the acknowledgement.
//
// Credentials never appear on a command line: sysbench gets them in a
// --config-file and mariadb-binlog in a --defaults-extra-file, both mode
// 0600 in a temporary directory removed at exit.
//
// Needs: mariadbd and mariadb-binlog (apt-get install -y mariadb-server
// mariadb-client), sysbench (apt-get install -y sysbench), and for Kafka
// java 17+ with the broker jars (make kafka-fetch).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/recoup-dev/recoup/streamer"
)

// options are the capture benchmark's flags.
type options struct {
	txns        int
	tables      int
	tableSize   int
	threads     int
	rate        int
	lagFor      time.Duration
	conns       int
	stores      []string
	kafkaScript string
	keep        bool
	cpuProfile  string
	storeDir    string
	kafkaMsg    int
	warmKafka   bool
	semiSync    bool
	batchRecs   int
}

func main() {
	if len(os.Args) < 2 || os.Args[1] != "capture" {
		fmt.Fprintln(os.Stderr, "usage: go run ./test/bench capture [flags] (see -h)")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("capture", flag.ExitOnError)
	var o options
	var stores string
	fs.IntVar(&o.txns, "txns", 50000, "sysbench oltp_write_only transactions written for the catch-up measure")
	fs.IntVar(&o.tables, "tables", 4, "sysbench tables")
	fs.IntVar(&o.tableSize, "table-size", 10000, "rows per sysbench table")
	fs.IntVar(&o.threads, "threads", 8, "sysbench threads")
	fs.IntVar(&o.rate, "rate", 2000, "paced load of the lag measure, transactions/s")
	fs.DurationVar(&o.lagFor, "lag-duration", 10*time.Second, "how long the paced load runs, per store")
	fs.IntVar(&o.conns, "conns", 8, "connections of the paced load")
	fs.StringVar(&stores, "stores", "local,kafka", "stores to measure: local, kafka or both")
	fs.StringVar(&o.kafkaScript, "kafka-script", "test/kafka/kafka.sh", "kafka.sh, to run a broker (unless RECOUP_KAFKA_ADDR is set)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (stores, logs)")
	fs.StringVar(&o.storeDir, "store-dir", "", "parent directory of the local stores (default: the temporary work directory)")
	fs.IntVar(&o.kafkaMsg, "kafka-message-bytes", 0, "Kafka store MaxMessageBytes (0: the store's default)")
	fs.BoolVar(&o.warmKafka, "warm-kafka", true, "before the Kafka catch-up, capture the same range once into another topic, not measured, so that the broker's JIT has compiled its produce path, as in a broker in service")
	fs.BoolVar(&o.semiSync, "semi-sync", true, "also measure the lag with the streamer as the semi-synchronous replica the master waits for (commit latency then includes capture)")
	fs.IntVar(&o.batchRecs, "batch-records", 0, "the streamer's MaxBatchRecords (0: its default)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of each store's catch-up to FILE.STORE")
	_ = fs.Parse(os.Args[2:]) // ExitOnError
	for _, s := range strings.Split(stores, ",") {
		if s = strings.TrimSpace(s); s != "local" && s != "kafka" {
			fmt.Fprintf(os.Stderr, "bench: unknown store %q (want local, kafka)\n", s)
			os.Exit(2)
		}
		if !slices.Contains(o.stores, s) {
			o.stores = append(o.stores, strings.TrimSpace(s))
		}
	}
	// The streamer runs in this process: with the GC target `recoup stream` sets.
	fmt.Printf("GC target %d%% (as recoup stream sets it; GOGC overrides)\n", streamer.TuneGC())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runCapture(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// runCapture sets up the servers and runs both measures for each store.
func runCapture(ctx context.Context, o options) (err error) {
	if err := checkTools(o); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "recoup-bench-")
	if err != nil {
		return fmt.Errorf("creating the work directory: %w", err)
	}
	defer func() {
		if o.keep {
			fmt.Println("work directory kept:", work)
			return
		}
		err = errors.Join(err, os.RemoveAll(work))
	}()
	env, err := setup(ctx, o, work)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, env.close()) }()
	defer func() {
		if err != nil || env.warnings() > 0 {
			env.printLogTail()
		}
	}()
	env.header()

	cu, err := catchUp(ctx, env)
	if err != nil {
		return fmt.Errorf("catch-up measure: %w", err)
	}
	cu.print(env)
	var lags []lagResult
	for _, semi := range []bool{false, true} {
		if semi && !o.semiSync {
			continue
		}
		for _, kind := range o.stores {
			r, err := measureLag(ctx, env, kind, semi)
			if err != nil {
				return fmt.Errorf("lag measure (%s, semi-synchronous %v): %w", kind, semi, err)
			}
			lags = append(lags, r)
		}
	}
	printLag(env, lags)
	return nil
}
