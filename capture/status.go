package capture

import (
	"fmt"

	"github.com/recoup-dev/recoup/repl"
)

// Completeness states what a capture log says about capture from one
// master: either every transaction the master sent before it failed is in
// the log ("complete up to the crash"), or the master may have committed
// transactions after LastGTID that the log does not hold ("unknown after").
type Completeness struct {
	Master string
	// State is StateComplete or StateUnknownAfter.
	State string
	// Failed: a KindMasterState record declares Master failed (written by
	// the streamer when it leaves a master: a switch or a drain).
	Failed bool
	// Connected: the streamer was reading Master when it failed (only
	// meaningful when Failed).
	Connected bool
	// LastGTID is the last transaction captured from Master (zero when the
	// tail holds none and names none).
	LastGTID repl.GTID
	// Position is the captured set when capture from Master ended, or at
	// the last record about Master.
	Position repl.GTIDSet
	Summary  string
}

// States of a Completeness.
const (
	StateComplete     = "complete"
	StateUnknownAfter = "unknown-after"
)

// CaptureStatus reads the tail of a capture log (records in log order; at
// least every record since the master's last master-state record) and
// states whether capture from master is complete up to its crash. An empty
// master means the most recently failed master in the tail, or else the
// master of the tail's last record.
//
// The rule: capture is complete only when a KindMasterState record marks
// the master Failed with Connected set, which the streamer writes when its
// session with that master was streaming until the connection broke (or
// until the streamer left it for a new master) and no later session
// reached it. Every other ending (a failure recorded while the streamer was
// not connected, a lost connection with no failure declared, no record at
// all) is "unknown after" the last captured GTID.
func CaptureStatus(tail []Record, master string) Completeness {
	if master == "" {
		master = lastFailedMaster(tail)
	}
	c := Completeness{Master: master, State: StateUnknownAfter}
	var state *Record
	for i := range tail {
		r := &tail[i]
		switch {
		case r.Kind == KindTxn && r.Master == master:
			c.LastGTID, c.Position = r.GTID, r.After
		case r.Kind == KindMasterState && r.Master == master:
			state = r
			c.Position = r.After
			if !r.GTID.IsZero() {
				c.LastGTID = r.GTID
			}
		}
	}
	last := "its first transaction"
	if !c.LastGTID.IsZero() {
		last = c.LastGTID.String()
	}
	switch {
	case state != nil && state.Failed && state.Connected:
		c.State, c.Failed, c.Connected = StateComplete, true, true
		c.Summary = fmt.Sprintf("complete up to the crash of %s: the streamer was reading it when it failed, and the log "+
			"holds every transaction it sent, the last %s (captured %s)", master, last, c.Position)
	case state != nil && state.Failed:
		c.Failed = true
		c.Summary = fmt.Sprintf("unknown after %s: the streamer was not connected to %s when it failed; "+
			"transactions it committed later may be missing from the log", last, master)
	case state != nil && !state.Connected:
		c.Summary = fmt.Sprintf("unknown after %s: the streamer lost its connection to %s, which is not declared "+
			"failed; transactions it committed later may be missing from the log", last, master)
	default:
		c.Summary = fmt.Sprintf("unknown after %s: no failure of %s is recorded (capture may still be running)", last, master)
	}
	return c
}

// lastFailedMaster is the master of the tail's last failure record, or
// else the master of its last record.
func lastFailedMaster(tail []Record) string {
	for i := len(tail) - 1; i >= 0; i-- {
		if tail[i].Kind == KindMasterState && tail[i].Failed {
			return tail[i].Master
		}
	}
	if len(tail) == 0 {
		return ""
	}
	if r := tail[len(tail)-1]; r.Kind == KindMasterSwitch {
		return r.From
	}
	return tail[len(tail)-1].Master
}
