package conflict

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// Verdict is the decision for a transaction or one of its rows. Its text is
// part of the report format.
type Verdict string

const (
	// Apply: replay it as captured.
	Apply Verdict = "apply"
	// AlreadyApplied: the new master already holds its effect; skip it.
	AlreadyApplied Verdict = "already-applied"
	// Conflict: the new master holds something else; skip it and report.
	Conflict Verdict = "conflict"
	// Aborted: policy abort found a conflict; nothing is replayed.
	Aborted Verdict = "aborted"
	// ApplyOverwrite: policy source-wins replays a conflicting transaction,
	// forcing its rows to the old master's after-images.
	ApplyOverwrite Verdict = "apply-overwrite"
)

// Policy is what a cluster does with conflicts.
type Policy string

const (
	// PolicyReport applies clean transactions and skips and reports
	// conflicting ones (the default).
	PolicyReport Policy = "report"
	// PolicySourceWins applies conflicting transactions too, forcing the
	// old master's after-images (verdict ApplyOverwrite), and reports them.
	PolicySourceWins Policy = "source-wins"
	// PolicyAbort applies nothing when any transaction conflicts.
	PolicyAbort Policy = "abort"
)

// ParsePolicy accepts "report", "source-wins", "abort" (any case); ""
// means report.
func ParsePolicy(s string) (Policy, error) {
	p := Policy(strings.ToLower(strings.TrimSpace(s)))
	switch p {
	case "":
		return PolicyReport, nil
	case PolicyReport, PolicySourceWins, PolicyAbort:
		return p, nil
	}
	return "", fmt.Errorf("unknown conflict policy %q: want report, source-wins or abort", s)
}

// Plan is the decision for one batch: Txns[i] decides the batch's i-th
// transaction.
type Plan struct {
	Policy Policy        `json:"policy"`
	Txns   []TxnDecision `json:"txns"`
}

// Count returns how many transactions have verdict v.
func (p *Plan) Count(v Verdict) int {
	n := 0
	for i := range p.Txns {
		if p.Txns[i].Verdict == v {
			n++
		}
	}
	return n
}

// Abort turns every transaction not already applied into Aborted, keeping
// its reason after "aborted: " (cause when it had none). Policy abort does
// this within Decide; a caller that planned earlier batches calls it on
// their plans when a later batch found a conflict (State.FirstConflict).
func (p *Plan) Abort(cause string) {
	for i := range p.Txns {
		d := &p.Txns[i]
		if d.Verdict == AlreadyApplied || d.Verdict == Aborted {
			continue
		}
		if d.Verdict == Conflict && d.Reason != "" {
			d.Reason = "aborted: " + d.Reason
		} else {
			d.Reason = "aborted: " + cause
		}
		d.Verdict = Aborted
	}
}

// TxnDecision is the verdict for one transaction.
type TxnDecision struct {
	GTID    repl.GTID
	Verdict Verdict
	// Reason explains a Conflict, ApplyOverwrite or Aborted verdict.
	Reason string
	// DependsOn is the skipped transaction whose rows this one touches.
	DependsOn *repl.GTID
	Rows      []RowDecision
}

// RowDecision is the verdict for one row change.
type RowDecision struct {
	Index   int             // index into Txn.Changes
	Table   string          // Table.QualifiedName()
	Change  repl.ChangeType // insert, update or delete
	Key     string          // the row's identity for humans: "id=5"
	Verdict Verdict         // Apply, AlreadyApplied, Conflict or ApplyOverwrite
	Reason  string          // why it conflicts
	// Current is the row found on the new master (as simulated) instead of
	// the expected image, for Conflict and ApplyOverwrite rows; nil when
	// absent or not applicable.
	Current repl.Row
	// DiffColumns are the columns where Current differs from the expected
	// image (the before-image of an UPDATE or DELETE, the after-image of an
	// INSERT or of a taken new key or unique value).
	DiffColumns []int

	columns []string // column names, for the report
}

type txnJSON struct {
	GTID      string        `json:"gtid"`
	Verdict   Verdict       `json:"verdict"`
	Reason    string        `json:"reason,omitempty"`
	DependsOn string        `json:"depends_on,omitempty"`
	Rows      []RowDecision `json:"rows"`
}

// MarshalJSON writes GTIDs in their server text form.
func (d TxnDecision) MarshalJSON() ([]byte, error) {
	j := txnJSON{GTID: d.GTID.String(), Verdict: d.Verdict, Reason: d.Reason, Rows: d.Rows}
	if d.DependsOn != nil {
		j.DependsOn = d.DependsOn.String()
	}
	if j.Rows == nil {
		j.Rows = []RowDecision{}
	}
	return json.Marshal(j)
}

type rowJSON struct {
	Index       int             `json:"index"`
	Table       string          `json:"table"`
	Change      string          `json:"change"`
	Key         string          `json:"key"`
	Verdict     Verdict         `json:"verdict"`
	Reason      string          `json:"reason,omitempty"`
	Current     json.RawMessage `json:"current,omitempty"`
	DiffColumns []string        `json:"diff_columns,omitempty"`
}

// MarshalJSON writes Current as an object of column name to the value's
// text (null for NULL), in column order, and DiffColumns as names.
func (r RowDecision) MarshalJSON() ([]byte, error) {
	j := rowJSON{Index: r.Index, Table: r.Table, Change: r.Change.String(), Key: r.Key,
		Verdict: r.Verdict, Reason: r.Reason}
	if r.Current != nil {
		j.Current = r.currentJSON()
	}
	for _, c := range r.DiffColumns {
		j.DiffColumns = append(j.DiffColumns, r.columnName(c))
	}
	return json.Marshal(j)
}

func (r RowDecision) columnName(i int) string {
	if i >= 0 && i < len(r.columns) {
		return r.columns[i]
	}
	return "#" + strconv.Itoa(i)
}

func (r RowDecision) currentJSON() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range r.Current {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(r.columnName(i))
		b.Write(name)
		b.WriteByte(':')
		if v.IsNull() {
			b.WriteString("null")
			continue
		}
		val, _ := json.Marshal(v.String())
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes()
}
