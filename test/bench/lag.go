package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// lagResult is the lag measure of one store.
type lagResult struct {
	kind     string
	semi     bool  // the streamer was a semi-synchronous replica the master waited for
	yesTx    int64 // semi-synchronous commits acknowledged by the streamer (master's Rpl_semi_sync_master_yes_tx)
	noTx     int64 // commits the master stopped waiting for (Rpl_semi_sync_master_no_tx)
	txns     int
	achieved float64         // transactions/s the generator committed
	commit   []time.Duration // BEGIN to COMMIT acknowledged, on the client
	readable []time.Duration // commit ack to readable by the tailing reader
	durable  []time.Duration // commit ack to Store.Append returned
	early    int             // transactions durable before their commit ack reached the client
	retried  int             // transactions made durable by an Append that returned an error
	preRead  int             // transactions readable before their Append returned
}

// measureLag runs the paced load with the streamer capturing into a fresh
// store and a tailing reader on a second handle of it.
func measureLag(ctx context.Context, e *env, kind string, semi bool) (res lagResult, err error) {
	res.kind, res.semi = kind, semi
	if _, err := e.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS sbtest.lag (id BIGINT AUTO_INCREMENT PRIMARY KEY,
		v INT NOT NULL, c CHAR(120) NOT NULL)`); err != nil {
		return res, fmt.Errorf("creating the lag table: %w", err)
	}
	if semi {
		if err := e.semiSyncMaster(ctx, true); err != nil {
			return res, err
		}
		defer func() { err = errors.Join(err, e.semiSyncMaster(context.WithoutCancel(ctx), false)) }()
	}
	c, err := e.newCapturer(ctx, kind, "lag")
	if err != nil {
		return res, err
	}
	c.cfg.SemiSync = semi
	defer func() { err = errors.Join(err, c.close()) }()
	if err := primeCapture(ctx, e, c); err != nil {
		return res, err
	}
	if err := c.start(); err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, c.stop()) }()
	// Capture runs always-on in service: the measure starts once this
	// streamer has connected and made a first transaction durable, so that
	// its start-up (connection, preflight, schema history) is not counted.
	if err := waitStreaming(ctx, e, c); err != nil {
		return res, err
	}
	reader, err := e.openReader(ctx, c)
	if err != nil {
		return res, fmt.Errorf("opening a reader on the %s store: %w", kind, err)
	}
	defer func() { err = errors.Join(err, reader.Close()) }()
	_, next, err := reader.Bounds(ctx)
	if err != nil {
		return res, err
	}
	tail := startTail(reader, next)
	c.store.note()
	yes0, no0, err := e.semiSyncCounts(ctx)
	if err != nil {
		_, _ = tail.stop()
		return res, err
	}
	fmt.Printf("lag: %d txn/s paced load for %v on %d connections, capture into the %s store ...\n",
		e.o.rate, e.o.lagFor, e.o.conns, kind)
	began := time.Now()
	acks, commit, err := pacedLoad(ctx, e)
	elapsed := time.Since(began)
	if err == nil {
		res.yesTx, res.noTx, err = e.semiSyncCounts(ctx)
		res.yesTx, res.noTx = res.yesTx-yes0, res.noTx-no0
	}
	if err != nil {
		_, _ = tail.stop()
		return res, err
	}
	// Everything durable (Append returned) and read before the figures.
	_, end, err := e.position(ctx)
	if err != nil {
		_, _ = tail.stop()
		return res, err
	}
	_, werr := c.waitFor(ctx, end, time.Minute)
	if werr == nil {
		werr = tail.waitAll(acks, time.Minute)
	}
	seen, terr := tail.stop()
	if err := errors.Join(werr, terr); err != nil {
		return res, err
	}
	res.txns, res.commit = len(acks), commit
	res.achieved = float64(len(acks)) / elapsed.Seconds()
	durable := c.store.times()
	for g, ack := range acks {
		res.readable = append(res.readable, max(seen[g].Sub(ack), 0))
		d, ok := durable[g]
		if !ok {
			// Readable, yet no Append returned nil with it: an Append failed
			// after writing it, and the streamer resumed past it.
			res.retried++
			continue
		}
		if d.Before(ack) {
			res.early++
		}
		if seen[g].Before(d) {
			res.preRead++
		}
		res.durable = append(res.durable, max(d.Sub(ack), 0))
	}
	return res, nil
}

// ack is one committed transaction of the paced load.
type ack struct {
	gtid    repl.GTID
	at      time.Time
	latency time.Duration
}

// pacedLoad commits e.o.rate transactions per second for e.o.lagFor from
// e.o.conns connections. Each transaction updates a random sysbench row
// and inserts a row; its GTID is read with SELECT @@last_gtid after the
// COMMIT was acknowledged.
func pacedLoad(ctx context.Context, e *env) (map[repl.GTID]time.Time, []time.Duration, error) {
	db, err := sql.Open("mysql", e.primary.DSN("sbtest"))
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(e.o.conns)
	db.SetMaxIdleConns(e.o.conns)
	total := int(float64(e.o.rate) * e.o.lagFor.Seconds())
	slots := make(chan struct{}, total)
	go schedule(ctx, slots, e.o.rate, total)
	acks := make(chan ack, total)
	errs := make(chan error, e.o.conns)
	var wg sync.WaitGroup
	for w := range e.o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- worker(ctx, e, db, uint64(w), slots, acks)
		}()
	}
	wg.Wait()
	close(acks)
	close(errs)
	out := make(map[repl.GTID]time.Time, total)
	var lat []time.Duration
	for a := range acks {
		out[a.gtid] = a.at
		lat = append(lat, a.latency)
	}
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return out, lat, errors.Join(all...)
}

// schedule releases total slots at rate per second, then closes slots.
func schedule(ctx context.Context, slots chan<- struct{}, rate, total int) {
	defer close(slots)
	start, sent := time.Now(), 0
	for sent < total && ctx.Err() == nil {
		due := min(int(time.Since(start).Seconds()*float64(rate))+1, total)
		for ; sent < due; sent++ {
			slots <- struct{}{}
		}
		time.Sleep(500 * time.Microsecond)
	}
}

func worker(ctx context.Context, e *env, db *sql.DB, seed uint64, slots <-chan struct{}, acks chan<- ack) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rng := rand.New(rand.NewPCG(seed, 42))
	for range slots {
		table := fmt.Sprintf("sbtest%d", 1+rng.IntN(e.o.tables))
		began := time.Now()
		for _, q := range []struct {
			q    string
			args []any
		}{
			{"BEGIN", nil},
			{"UPDATE " + table + " SET k = k + 1 WHERE id = ?", []any{1 + rng.IntN(e.o.tableSize)}},
			{"INSERT INTO lag (v, c) VALUES (?, ?)", []any{rng.Int32(), fmt.Sprintf("%0120d", rng.Uint64())}},
			{"COMMIT", nil},
		} {
			if _, err := conn.ExecContext(ctx, q.q, q.args...); err != nil {
				return fmt.Errorf("paced load: %s: %w", q.q, err)
			}
		}
		at := time.Now()
		var text string
		if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&text); err != nil {
			return fmt.Errorf("paced load: reading @@last_gtid: %w", err)
		}
		g, err := repl.ParseGTID(repl.MariaDB, text)
		if err != nil {
			return fmt.Errorf("paced load: @@last_gtid %q: %w", text, err)
		}
		acks <- ack{gtid: g, at: at, latency: at.Sub(began)}
	}
	return nil
}

// waitStreaming commits one transaction on the primary and waits until the
// streamer made it durable.
func waitStreaming(ctx context.Context, e *env, c *capturer) error {
	if _, err := e.db.ExecContext(ctx, "INSERT INTO sbtest.lag (v, c) VALUES (0, 'streaming?')"); err != nil {
		return fmt.Errorf("writing the readiness transaction: %w", err)
	}
	_, pos, err := e.position(ctx)
	if err != nil {
		return err
	}
	if _, err := c.waitFor(ctx, pos, time.Minute); err != nil {
		return fmt.Errorf("waiting for the streamer to capture the readiness transaction: %w", err)
	}
	return nil
}
