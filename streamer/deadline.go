package streamer

import (
	"context"
	"net"
	"time"
)

// deadlineSlack is how much later than asked a read deadline may fire.
const deadlineSlack = time.Second

// coarseDeadlineConn is the binlog connection with cheaper read deadlines.
// go-mysql sets a read deadline before every packet it reads (ReadTimeout);
// each call re-arms the runtime's poller timer, which cost a fifth of the
// streamer's CPU in the capture benchmark. The wrapper moves the real
// deadline only when a requested one falls outside [real-slack, real]: a
// deadline then fires at most deadlineSlack after the requested time, and
// never before it. Only the binlog dump connection reads, from one
// goroutine, so the wrapper needs no lock.
type coarseDeadlineConn struct {
	net.Conn
	real time.Time // the deadline set on Conn; zero: none
}

// SetReadDeadline keeps the real deadline when it lies within
// deadlineSlack after t.
func (c *coarseDeadlineConn) SetReadDeadline(t time.Time) error {
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
func (c *coarseDeadlineConn) SetDeadline(t time.Time) error {
	c.real = time.Time{}
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	c.real = t
	return nil
}

// coarseDeadlineDialer dials with d and wraps the connection.
func coarseDeadlineDialer(d *net.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return &coarseDeadlineConn{Conn: c}, nil
	}
}
