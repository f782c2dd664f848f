package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// ack is one commit a client saw acknowledged.
type ack struct {
	client, n int
	gtid      string // @@last_gtid of the committing session
	at        time.Time
}

// ledger is the acknowledged commits of every client.
type ledger struct {
	mu   sync.Mutex
	acks []ack
}

func (l *ledger) add(a ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acks = append(l.acks, a)
}

func (l *ledger) list() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acks...)
}

// write commits one row through db on a fresh connection and returns the
// transaction's GTID.
func write(ctx context.Context, db *sql.DB, client, n int) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	note := fmt.Sprintf("c%d-n%d", client, n)
	if _, err := conn.ExecContext(ctx, "INSERT INTO app.ledger (client, n, at, note) VALUES (?, ?, NOW(6), ?)",
		client, n, note); err != nil {
		return "", err
	}
	var gtid string
	if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid); err != nil {
		return "", err
	}
	return gtid, nil
}

// writeBatch has clients write count rows each, concurrently, from row
// number first; every write must succeed.
func writeBatch(ctx context.Context, db *sql.DB, l *ledger, clients, first, count int) error {
	var g errgroup.Group
	for c := range clients {
		g.Go(func() error {
			for n := first; n < first+count; n++ {
				gtid, err := write(ctx, db, c, n)
				if err != nil {
					return fmt.Errorf("client %d row %d: %w", c, n, err)
				}
				l.add(ack{client: c, n: n, gtid: gtid, at: time.Now()})
			}
			return nil
		})
	}
	return g.Wait()
}

// hammer writes through db every interval until stop is closed, keeping
// every acknowledged commit; failures (no route, read-only) are expected
// and only counted. It is bounded by limit.
type hammer struct {
	l        ledger
	failures int
	done     chan struct{}
}

func startHammer(ctx context.Context, db *sql.DB, client int, interval, limit time.Duration, stop <-chan struct{}) *hammer {
	h := &hammer{done: make(chan struct{})}
	go func() {
		defer close(h.done)
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		for n := 0; ; n++ {
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			gtid, err := write(actx, db, client, n)
			acancel()
			if err == nil {
				h.l.add(ack{client: client, n: n, gtid: gtid, at: time.Now()})
			} else {
				h.failures++
			}
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	return h
}
