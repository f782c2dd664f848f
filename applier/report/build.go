package report

import (
	"reflect"
	"slices"
	"time"

	"github.com/recoup-dev/recoup/applier"
	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

// tableDef returns the captured definition of rr's table, or nil when the
// Result does not carry it (a Result read back from JSON).
func tableDef(rr *applier.RowResult) *repl.Table { return rr.TableDef() }

// Build turns a run's Result into a report. It copies what it keeps: the
// Result may be reused afterwards.
func Build(res *applier.Result, meta Meta, now time.Time) *Report {
	r := &Report{
		Schema: SchemaVersion, GeneratedAt: now.UTC(), Cluster: res.Cluster, Flavor: res.Flavor,
		Policy: res.Policy, DryRun: res.DryRun, Error: res.Error,
		Recovery: Recovery{UID: meta.RecoveryUID, OldMaster: meta.OldMaster, NewMaster: meta.NewMaster,
			StartedAt: meta.Started.UTC(), FinishedAt: meta.Finished.UTC(), Steps: slices.Clone(meta.Steps)},
		Capture: Capture(res.Capture),
		GTIDs: GTIDs{Executed: res.Executed, Divergence: res.Divergence, Missing: res.Missing,
			WrittenAfter: res.WrittenAfter, StartOffset: res.StartOffset},
		Counts:     Counts(res.Counts),
		Timings:    Timings(res.Timings),
		Collisions: []Collision{}, NewGTIDs: []NewGTID{}, Tables: []*repl.Table{},
		Conflicts: []Conflict{}, Transactions: make([]TxnSummary, 0, len(res.Txns)),
	}
	if r.Recovery.Steps == nil {
		r.Recovery.Steps = []Step{}
	}
	for _, c := range res.Collisions {
		r.Collisions = append(r.Collisions, Collision(c))
	}
	for i := range res.Txns {
		t := &res.Txns[i]
		s := TxnSummary{GTID: t.GTID, NewGTID: t.NewGTID, Offset: t.Offset, CommitTime: t.CommitTime.UTC(),
			Verdict: string(t.Verdict), Applied: t.Applied, Rows: len(t.Rows)}
		if t.NewGTID != "" {
			r.NewGTIDs = append(r.NewGTIDs, NewGTID{GTID: t.GTID, NewGTID: t.NewGTID})
		}
		if needsReview(t) {
			s.Conflict = len(r.Conflicts) + 1
			r.Conflicts = append(r.Conflicts, r.conflict(s.Conflict, t, res.DryRun))
		}
		r.Transactions = append(r.Transactions, s)
	}
	return r
}

// needsReview: transactions a human should look at.
func needsReview(t *applier.TxnResult) bool {
	switch t.Verdict {
	case conflict.Conflict, conflict.Aborted, conflict.ApplyOverwrite:
		return true
	}
	return t.Error != ""
}

func (r *Report) conflict(n int, t *applier.TxnResult, dry bool) Conflict {
	c := Conflict{N: n, GTID: t.GTID, NewGTID: t.NewGTID, Offset: t.Offset, CommitTime: t.CommitTime.UTC(),
		Verdict: string(t.Verdict), Reason: t.Reason, DependsOn: t.DependsOn, Applied: t.Applied,
		Error: t.Error, Tables: []string{}, Decision: decision(t, dry), Resolvable: !t.Applied,
		Rows: make([]Row, 0, len(t.Rows))}
	for i := range t.Rows {
		rr := &t.Rows[i]
		if !slices.Contains(c.Tables, rr.Table) {
			c.Tables = append(c.Tables, rr.Table)
		}
		c.Rows = append(c.Rows, r.row(i, rr))
	}
	return c
}

func (r *Report) row(i int, rr *applier.RowResult) Row {
	row := Row{Index: i, Table: rr.Table, TableDef: -1, Change: rr.Change, Key: rr.Key,
		Verdict: string(rr.Verdict), Reason: rr.Reason, DiffColumns: slices.Clone(rr.DiffColumns)}
	if def := tableDef(rr); def != nil {
		row.TableDef = r.addTable(def)
	}
	for _, im := range []struct {
		src *applier.Image
		dst **Image
	}{{rr.Before, &row.Before}, {rr.After, &row.After}, {rr.Current, &row.Current}} {
		if im.src != nil {
			*im.dst = newImage(im.src.Columns, im.src.Values)
		}
	}
	row.CurrentState = currentState(rr)
	return row
}

// addTable returns the index of def in r.Tables, adding it if new.
func (r *Report) addTable(def *repl.Table) int {
	for i, t := range r.Tables {
		if t == def || reflect.DeepEqual(t, def) {
			return i
		}
	}
	r.Tables = append(r.Tables, def)
	return len(r.Tables) - 1
}

// currentState says what the run knew of the row on the new master, from
// the conflict package's rules: a conflicting row carries what was found
// (nothing when the row was absent); an applicable row equals its
// before-image (or is absent, for an insert); an already-applied row
// equals its after-image (or is absent, for a delete).
func currentState(rr *applier.RowResult) string {
	switch {
	case rr.Current != nil:
		return CurrentFound
	case rr.Verdict == conflict.Conflict || rr.Verdict == conflict.ApplyOverwrite:
		if rr.Reason == "the row is absent" || rr.Reason == "no row equals the before-image" {
			return CurrentAbsent
		}
		return CurrentNotChecked
	case rr.Verdict == conflict.Apply && rr.Change != "insert":
		return CurrentBefore
	case rr.Verdict == conflict.Apply:
		return CurrentAbsent
	case rr.Verdict == conflict.AlreadyApplied && rr.Change != "delete":
		return CurrentAfter
	case rr.Verdict == conflict.AlreadyApplied:
		return CurrentAbsent
	}
	return CurrentNotChecked
}

// decision says, for humans, what recoup did with a transaction.
func decision(t *applier.TxnResult, dry bool) string {
	switch {
	case t.Error != "":
		return "failed: not applied (" + t.Error + ")"
	case t.Applied && t.Verdict == conflict.ApplyOverwrite:
		return "overwritten: the old master's rows replaced the new master's (policy source-wins)"
	case dry:
		return "dry run: nothing was applied (verdict " + string(t.Verdict) + ")"
	case t.Verdict == conflict.Aborted:
		return "not applied: policy abort (a transaction conflicted, so nothing was applied)"
	}
	return "skipped: left for review; the new master keeps its rows"
}
