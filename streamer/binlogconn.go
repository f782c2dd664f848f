package streamer

import (
	"context"
	"net"
	"time"
)

// deadlineSlack is how much later than asked a read deadline may fire.
const deadlineSlack = time.Second

// MySQL commands and packet bytes binlogConn recognizes.
const (
	comBinlogDump     = 0x12 // MariaDB's GTID dump uses it, after @slave_connect_state
	comBinlogDumpGTID = 0x1e
	semiSyncIndicator = 0xef // first payload byte of a semi-synchronous acknowledgement
)

// binlogConn is a connection go-mysql's binlog syncer dials. It does two
// things to go-mysql's use of it:
//
//   - Read deadlines are coarse. go-mysql sets one before every packet it
//     reads (ReadTimeout); each call re-arms the runtime's poller timer,
//     which cost a fifth of the streamer's CPU in the capture benchmark.
//     The real deadline moves only when a requested one falls outside
//     [real-slack, real]: a deadline fires at most deadlineSlack after the
//     requested time, and never before it.
//   - With gate set (semi-synchronous capture), a semi-synchronous
//     acknowledgement written once the connection has asked for a binlog
//     dump is held until every event handed to the streamer so far is
//     durable or ends no transaction (ackGate): go-mysql acknowledges a
//     flagged event as soon as the event handler returns, before the
//     streamer's store has it.
//
// go-mysql reads and writes a binlog connection from one goroutine, so
// binlogConn needs no lock.
type binlogConn struct {
	net.Conn
	real    time.Time // the read deadline set on Conn; zero: none
	gate    *ackGate  // nil: acknowledgements pass at once
	dumping bool      // a binlog dump command was written
}

// SetReadDeadline keeps the real deadline when it lies within
// deadlineSlack after t.
func (c *binlogConn) SetReadDeadline(t time.Time) error {
	if !t.IsZero() && !c.real.IsZero() && !c.real.Before(t) && c.real.Sub(t) <= deadlineSlack {
		return nil
	}
	if !t.IsZero() {
		t = t.Add(deadlineSlack)
	}
	if err := c.Conn.SetReadDeadline(t); err != nil {
		c.real = time.Time{}
		return err
	}
	c.real = t
	return nil
}

// SetDeadline sets both deadlines exactly and resets the coarse state.
func (c *binlogConn) SetDeadline(t time.Time) error {
	c.real = time.Time{}
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	c.real = t
	return nil
}

// Write holds a semi-synchronous acknowledgement until the gate opens.
// p is one whole MySQL packet: go-mysql writes header and payload in one
// call (its 4-byte header, then the command or indicator byte).
func (c *binlogConn) Write(p []byte) (int, error) {
	if c.gate != nil && len(p) > 4 && p[3] == 0 {
		switch {
		case p[4] == comBinlogDump || p[4] == comBinlogDumpGTID:
			c.dumping = true
		case p[4] == semiSyncIndicator && c.dumping:
			if err := c.gate.wait(); err != nil {
				return 0, err
			}
		}
	}
	return c.Conn.Write(p)
}

// binlogDialer dials with d and wraps the connection; gate is nil unless
// capture is semi-synchronous.
func binlogDialer(d *net.Dialer, gate *ackGate) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return &binlogConn{Conn: c, gate: gate}, nil
	}
}
