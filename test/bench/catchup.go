package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
)

// catchUpResult is the catch-up measure: one binlog range, pulled raw and
// captured into each store.
type catchUpResult struct {
	txns        uint64 // GTIDs in the range
	rangeBytes  int64  // binlog bytes of the range
	sysbenchTPS string // what sysbench reported while writing
	runs        []catchUpRun
}

// catchUpRun is one store's catch-up next to the raw pull before it.
type catchUpRun struct {
	kind        string
	took, raw   time.Duration
	rawBytes    int64
	txns, rows  int
	eventBytes  int64
	decodeError error
	use         storeUse  // the store's work during the catch-up
	cpu         cpuUse    // CPU time used during the catch-up
	heapSys     uint64    // the Go heap obtained from the OS by the end of the catch-up
	began       time.Time // the streamer's start
}

// binlogPos is a file and offset on the primary.
type binlogPos struct {
	file string
	pos  int64
}

// catchUp stops capture, writes e.o.txns sysbench transactions, then for
// each store pulls the range raw and times the streamer catching up.
func catchUp(ctx context.Context, e *env) (*catchUpResult, error) {
	var caps []*capturer
	warm := map[string]*capturer{} // by store kind: a capture run first, not measured
	defer func() {
		for _, c := range caps {
			_ = c.close()
		}
		for _, c := range warm {
			_ = c.close()
		}
	}()
	for _, kind := range e.o.stores {
		c, err := e.newCapturer(ctx, kind, "catchup")
		if err != nil {
			return nil, err
		}
		caps = append(caps, c)
		if err := primeCapture(ctx, e, c); err != nil {
			return nil, err
		}
		if kind == "kafka" && e.o.warmKafka {
			if warm[kind], err = e.newCapturer(ctx, kind, "warmup"); err != nil {
				return nil, err
			}
			if err := primeCapture(ctx, e, warm[kind]); err != nil {
				return nil, err
			}
		}
	}
	start, startSet, err := e.position(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Printf("catch-up: sysbench oltp_write_only writes %d transactions with capture stopped ...\n", e.o.txns)
	out, err := e.sysbench(ctx, "run", "--threads="+strconv.Itoa(e.o.threads), "--events="+strconv.Itoa(e.o.txns), "--time=0")
	if err != nil {
		return nil, err
	}
	_, endSet, err := e.position(ctx)
	if err != nil {
		return nil, err
	}
	r := &catchUpResult{txns: endSet.Count() - startSet.Count(), sysbenchTPS: parseTPS(out)}
	if r.rangeBytes, err = rangeBytes(ctx, e.db, start); err != nil {
		return nil, err
	}
	for i, c := range caps {
		if w := warm[c.kind]; w != nil {
			fmt.Println("catch-up: warming the Kafka broker up (its JIT compiles the produce path during its first " +
				"100 MB, as a broker in service has long done): the same range into another topic, not measured ...")
			if _, err := timeCatchUp(ctx, w, endSet); err != nil {
				return nil, fmt.Errorf("warming the Kafka broker up: %w", err)
			}
		}
		run := catchUpRun{kind: c.kind}
		if run.raw, run.rawBytes, err = pullRaw(ctx, e, start, i); err != nil {
			return nil, err
		}
		stopProfile, err := startProfile(e.o.cpuProfile, c.kind)
		if err != nil {
			return nil, err
		}
		c.store.usage() // what priming did is not counted
		fmt.Printf("catch-up: capture into the %s store ...\n", c.kind)
		run.began = time.Now()
		cpu0 := e.cpuNow()
		run.took, err = timeCatchUp(ctx, c, endSet)
		run.cpu = e.cpuNow().since(cpu0)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		run.heapSys = ms.HeapSys
		run.use = c.store.usage()
		if err = errors.Join(err, stopProfile()); err != nil {
			return nil, err
		}
		countCaptured(ctx, c, startSet, &run)
		r.runs = append(r.runs, run)
	}
	return r, nil
}

// primeCapture starts capture on an empty store (it begins at the
// master's current position), waits until it is connected there, and stops.
func primeCapture(ctx context.Context, e *env, c *capturer) error {
	_, pos, err := e.position(ctx)
	if err != nil {
		return err
	}
	if err := c.start(); err != nil {
		return err
	}
	if _, err := c.waitFor(ctx, pos, time.Minute); err != nil {
		return errors.Join(err, c.stop())
	}
	return c.stop()
}

// timeCatchUp starts the streamer and times it until its durable position
// holds end.
func timeCatchUp(ctx context.Context, c *capturer, end repl.GTIDSet) (time.Duration, error) {
	began := time.Now()
	if err := c.start(); err != nil {
		return 0, err
	}
	at, err := c.waitFor(ctx, end, 30*time.Minute)
	if err != nil {
		return 0, errors.Join(err, c.stop())
	}
	return at.Sub(began), c.stop()
}

// countCaptured reads back the transactions captured after startSet and
// decodes them, counting rows (not timed).
func countCaptured(ctx context.Context, c *capturer, startSet repl.GTIDSet, run *catchUpRun) {
	rd, err := c.store.ReadFrom(ctx, 0)
	if err != nil {
		run.decodeError = err
		return
	}
	defer rd.Close()
	rd = capture.Dedupe(rd)
	for {
		rec, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			run.decodeError = err
			return
		}
		if rec.Kind != capture.KindTxn || startSet.Contains(rec.GTID) {
			continue
		}
		txn, err := streamer.DecodeTxn(rec)
		if err != nil {
			run.decodeError = err
			return
		}
		run.txns++
		run.rows += len(txn.Changes)
		for _, ev := range rec.Events {
			run.eventBytes += int64(len(ev))
		}
	}
}

// position is the primary's binlog file and offset, and gtid_binlog_pos.
func (e *env) position(ctx context.Context) (binlogPos, repl.GTIDSet, error) {
	var p binlogPos
	var skip1, skip2 sql.NullString
	if err := e.db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&p.file, &p.pos, &skip1, &skip2); err != nil {
		return p, repl.GTIDSet{}, fmt.Errorf("SHOW MASTER STATUS: %w", err)
	}
	set, err := e.primary.GTIDBinlogPos(ctx)
	return p, set, err
}

// rangeBytes is the size of the binlog from start to the current end.
func rangeBytes(ctx context.Context, db *sql.DB, start binlogPos) (int64, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return 0, fmt.Errorf("SHOW BINARY LOGS: %w", err)
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			return 0, err
		}
		if name >= start.file {
			total += size
		}
	}
	return total - start.pos, rows.Err()
}

// pullRaw runs mariadb-binlog --read-from-remote-server --raw from start
// to the end of the last binlog, and returns how long it took and the
// bytes it wrote.
func pullRaw(ctx context.Context, e *env, start binlogPos, n int) (time.Duration, int64, error) {
	dir := filepath.Join(e.work, fmt.Sprintf("raw-%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	fmt.Println("catch-up: mariadb-binlog --read-from-remote-server --raw of the same range ...")
	cmd := exec.CommandContext(ctx, "mariadb-binlog", "--defaults-extra-file="+e.myConfig,
		"--read-from-remote-server", "--raw", "--to-last-log", "--result-file="+dir+"/",
		"--start-position="+strconv.FormatInt(start.pos, 10), start.file)
	began := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(began)
	if err != nil {
		return 0, 0, fmt.Errorf("mariadb-binlog --raw: %w\n%s", err, tail(out, 2000))
	}
	var size int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, en := range entries {
		if info, err := en.Info(); err == nil {
			size += info.Size()
		}
	}
	return took, size, os.RemoveAll(dir)
}

// startProfile starts a CPU profile into file.kind when file is set.
func startProfile(file, kind string) (stop func() error, err error) {
	if file == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(file + "." + kind)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(fmt.Errorf("starting the CPU profile: %w", err), f.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

var tpsLine = regexp.MustCompile(`transactions:\s+\d+\s+\(([\d.]+) per sec\.\)`)

func parseTPS(out string) string {
	if m := tpsLine.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return "?"
}
