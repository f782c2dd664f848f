package applier

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

// Result is what a Plan or Compensate run found and did: the DBA report's
// data. It marshals to JSON with the tags below; GTIDs and sets are in the
// server's text form.
type Result struct {
	Cluster string        `json:"cluster,omitempty"`
	Flavor  string        `json:"flavor"`
	Policy  string        `json:"policy"`
	DryRun  bool          `json:"dry_run"`
	Capture CaptureStatus `json:"capture"`
	// Executed is the new master's executed GTIDs as read at the start
	// (MariaDB: gtid_binlog_pos and gtid_slave_pos; MySQL: gtid_executed).
	Executed string `json:"executed"`
	// Divergence is, for MariaDB, the new master's gtid_slave_pos: the
	// last transaction of each domain it received by replication before it
	// was promoted. Empty for MySQL.
	Divergence string `json:"divergence,omitempty"`
	// WrittenAfter counts the GTIDs the new master's binary log holds past
	// the divergence point (MariaDB): its own writes and earlier replays.
	WrittenAfter int `json:"written_after_divergence"`
	// Collisions lists new-master GTIDs that share a domain and sequence
	// number with a captured transaction of another server id (MariaDB).
	Collisions []Collision `json:"collisions,omitempty"`
	// Missing is the set of captured transactions the new master lacks, in
	// GTIDSet text (MariaDB sets do not show server ids: see Txns).
	Missing string `json:"missing"`
	// StartOffset is the capture log offset the missing set starts at.
	StartOffset int64       `json:"start_offset"`
	Txns        []TxnResult `json:"txns"`
	Counts      Counts      `json:"counts"`
	Timings     Timings     `json:"timings"`
	// Error is the error that stopped the run, if any.
	Error string `json:"error,omitempty"`
}

// CaptureStatus says how far the capture log is known to be complete.
type CaptureStatus struct {
	// State is "complete" (the streamer was reading the master when it
	// failed: the log holds everything it committed up to the crash),
	// "unknown-after" (the streamer lost the master or never said:
	// transactions after LastGTID may exist that the log lacks) or "empty".
	// Master is the master that failed last.
	State    string `json:"state"`
	Master   string `json:"master,omitempty"`
	LastGTID string `json:"last_gtid,omitempty"`
	Detail   string `json:"detail"`
}

// Collision is a GTID the new master binlogged after the divergence point
// whose domain and sequence number belong to a different captured
// transaction.
type Collision struct {
	NewMaster string `json:"new_master_gtid"`
	Captured  string `json:"captured_gtid"`
}

// Counts summarises the transactions of a run by outcome.
type Counts struct {
	Missing        int `json:"missing"`
	Applied        int `json:"applied"`
	Overwritten    int `json:"overwritten"`
	AlreadyApplied int `json:"already_applied"`
	Conflicts      int `json:"conflicts"`
	Aborted        int `json:"aborted"`
	NewGTIDs       int `json:"new_gtids"`
	Failed         int `json:"failed"`
	Rows           int `json:"rows"`
}

// Timings are the run's phases in milliseconds. A batch's decisions are
// made while its first transactions are applied (except under policy
// abort and in a dry run), so DecideMS and ApplyMS overlap: their sum can
// exceed TotalMS.
type Timings struct {
	FindMS   float64 `json:"find_ms"`
	FetchMS  float64 `json:"fetch_ms"`
	DecideMS float64 `json:"decide_ms"`
	ApplyMS  float64 `json:"apply_ms"`
	TotalMS  float64 `json:"total_ms"`
}

// TxnResult is the outcome of one missing transaction.
type TxnResult struct {
	GTID string `json:"gtid"`
	// NewGTID is set when the transaction was replayed under a new GTID
	// (MariaDB strict mode refused the original one).
	NewGTID    string           `json:"new_gtid,omitempty"`
	Offset     int64            `json:"offset"`
	CommitTime time.Time        `json:"commit_time"`
	Verdict    conflict.Verdict `json:"verdict"`
	Reason     string           `json:"reason,omitempty"`
	DependsOn  string           `json:"depends_on,omitempty"`
	// Applied is true once the transaction committed on the new master.
	Applied bool        `json:"applied"`
	ApplyMS float64     `json:"apply_ms,omitempty"`
	Error   string      `json:"error,omitempty"`
	Rows    []RowResult `json:"rows"`
}

// RowResult is one row change of a missing transaction, with its images.
type RowResult struct {
	Table       string           `json:"table"`
	Change      string           `json:"change"`
	Key         string           `json:"key"`
	Verdict     conflict.Verdict `json:"verdict"`
	Reason      string           `json:"reason,omitempty"`
	Before      *Image           `json:"before,omitempty"`
	After       *Image           `json:"after,omitempty"`
	Current     *Image           `json:"current,omitempty"`
	DiffColumns []string         `json:"diff_columns,omitempty"`
	// def is the table the row was captured with (see TableDef).
	def *repl.Table
}

// TableDef is the captured definition of the row's table, which the
// report carries so that review can re-check and write the row; nil for a
// RowResult decoded from JSON.
func (r *RowResult) TableDef() *repl.Table { return r.def }

// Image is a row image for the report: it marshals as an object of column
// name to the value's text (null for NULL) in column order.
type Image struct {
	Columns []string
	Values  repl.Row
}

// newImage is r with the column names of its table (shared: images are
// never modified).
func newImage(names []string, r repl.Row) *Image {
	if r == nil {
		return nil
	}
	return &Image{Columns: names, Values: r}
}

// columnNames lists t's column names.
func columnNames(t *repl.Table) []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// MarshalJSON writes the ordered object.
func (im *Image) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range im.Values {
		if i > 0 {
			b.WriteByte(',')
		}
		name := "#"
		if i < len(im.Columns) {
			name = im.Columns[i]
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		if v.IsNull() {
			b.WriteString("null")
			continue
		}
		val, err := json.Marshal(v.String())
		if err != nil {
			return nil, err
		}
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// txnResult builds the report entry of one decided transaction.
func txnResult(rec int64, t *repl.Txn, d *conflict.TxnDecision) TxnResult {
	r := TxnResult{GTID: t.GTID.String(), Offset: rec, CommitTime: t.CommitTime, Verdict: d.Verdict,
		Reason: d.Reason, Rows: make([]RowResult, 0, len(t.Changes))}
	if d.DependsOn != nil {
		r.DependsOn = d.DependsOn.String()
	}
	var table *repl.Table // the table of names: a transaction has few, and many rows
	var names []string
	for _, rd := range d.Rows {
		c := t.Changes[rd.Index]
		if c.Table != table {
			table, names = c.Table, columnNames(c.Table)
		}
		rr := RowResult{Table: rd.Table, Change: rd.Change.String(), Key: rd.Key, Verdict: rd.Verdict,
			Reason: rd.Reason, Before: newImage(names, c.Before), After: newImage(names, c.After),
			Current: newImage(names, rd.Current), def: c.Table}
		for _, col := range rd.DiffColumns {
			if col >= 0 && col < len(c.Table.Columns) {
				rr.DiffColumns = append(rr.DiffColumns, c.Table.Columns[col].Name)
			}
		}
		r.Rows = append(r.Rows, rr)
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// count adds one transaction's outcome to the counts.
func (c *Counts) count(t *TxnResult) {
	c.Missing++
	c.Rows += len(t.Rows)
	switch {
	case t.Error != "":
		c.Failed++
	case t.Applied && t.Verdict == conflict.ApplyOverwrite:
		c.Overwritten++
	case t.Applied:
		c.Applied++
	case t.Verdict == conflict.AlreadyApplied:
		c.AlreadyApplied++
	case t.Verdict == conflict.Aborted:
		c.Aborted++
	case t.Verdict == conflict.Conflict || t.Verdict == conflict.ApplyOverwrite:
		c.Conflicts++
	}
	if t.NewGTID != "" {
		c.NewGTIDs++
	}
}
