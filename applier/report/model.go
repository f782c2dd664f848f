package report

import (
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// SchemaVersion names the JSON layout of a report (see SCHEMA.md). A
// reader refuses any other value.
const SchemaVersion = "recoup.report/v1"

// Report is the JSON document: what a compensation run found and did,
// with every value exact (repl.Value JSON). Field by field in SCHEMA.md.
type Report struct {
	Schema      string      `json:"schema"`
	ID          string      `json:"id"`
	GeneratedAt time.Time   `json:"generated_at"`
	Cluster     string      `json:"cluster"`
	Flavor      string      `json:"flavor"`
	Policy      string      `json:"policy"`
	DryRun      bool        `json:"dry_run"`
	Recovery    Recovery    `json:"recovery"`
	Capture     Capture     `json:"capture"`
	GTIDs       GTIDs       `json:"gtids"`
	Collisions  []Collision `json:"collisions"`
	NewGTIDs    []NewGTID   `json:"new_gtids"`
	Counts      Counts      `json:"counts"`
	Timings     Timings     `json:"timings"`
	Error       string      `json:"error,omitempty"`
	// Tables are the captured definitions of the tables the conflict rows
	// belong to; Row.TableDef indexes them.
	Tables       []*repl.Table `json:"tables"`
	Conflicts    []Conflict    `json:"conflicts"`
	Transactions []TxnSummary  `json:"transactions"`
}

// Meta is what the caller knows about the recovery that the applier's
// Result does not: which failover it was and, from the hook, its steps.
type Meta struct {
	RecoveryUID string
	OldMaster   string
	NewMaster   string
	Started     time.Time
	Finished    time.Time
	// Steps are the hook's timed steps, in order (free form).
	Steps []Step
}

// Recovery identifies the failover the report belongs to.
type Recovery struct {
	UID        string    `json:"uid,omitempty"`
	OldMaster  string    `json:"old_master,omitempty"`
	NewMaster  string    `json:"new_master,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Steps      []Step    `json:"steps"`
}

// Step is one timed step of the failover hook.
type Step struct {
	Step   string  `json:"step"`
	MS     float64 `json:"ms"`
	OK     bool    `json:"ok"`
	Detail string  `json:"detail,omitempty"`
}

// Capture is how far the capture log was known to be complete.
type Capture struct {
	State    string `json:"state"`
	Master   string `json:"master,omitempty"`
	LastGTID string `json:"last_gtid,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// GTIDs are the sets the run computed, in the server's text form.
type GTIDs struct {
	Executed     string `json:"executed"`
	Divergence   string `json:"divergence,omitempty"`
	Missing      string `json:"missing"`
	WrittenAfter int    `json:"written_after_divergence"`
	StartOffset  int64  `json:"start_offset"`
}

// Collision is a new-master GTID holding a lost transaction's domain and
// sequence number.
type Collision struct {
	NewMaster string `json:"new_master_gtid"`
	Captured  string `json:"captured_gtid"`
}

// NewGTID is a transaction replayed under a GTID other than its own.
type NewGTID struct {
	GTID    string `json:"gtid"`
	NewGTID string `json:"new_gtid"`
}

// Counts are the run's transactions by outcome.
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

// Timings are the run's phases in milliseconds.
type Timings struct {
	FindMS   float64 `json:"find_ms"`
	FetchMS  float64 `json:"fetch_ms"`
	DecideMS float64 `json:"decide_ms"`
	ApplyMS  float64 `json:"apply_ms"`
	TotalMS  float64 `json:"total_ms"`
}

// TxnSummary is one missing transaction of the run, whatever its outcome.
type TxnSummary struct {
	GTID       string    `json:"gtid"`
	NewGTID    string    `json:"new_gtid,omitempty"`
	Offset     int64     `json:"offset"`
	CommitTime time.Time `json:"commit_time"`
	Verdict    string    `json:"verdict"`
	Applied    bool      `json:"applied"`
	Rows       int       `json:"rows"`
	// Conflict is the number of its entry in Conflicts, 0 when none.
	Conflict int `json:"conflict,omitempty"`
}

// Conflict is a transaction that needs a human: skipped, aborted,
// overwritten by source-wins, or failed.
type Conflict struct {
	N          int       `json:"n"`
	GTID       string    `json:"gtid"`
	NewGTID    string    `json:"new_gtid,omitempty"`
	Offset     int64     `json:"offset"`
	CommitTime time.Time `json:"commit_time"`
	Verdict    string    `json:"verdict"`
	Reason     string    `json:"reason,omitempty"`
	DependsOn  string    `json:"depends_on,omitempty"`
	Applied    bool      `json:"applied"`
	Error      string    `json:"error,omitempty"`
	Tables     []string  `json:"tables"`
	// Decision is what recoup did with the transaction, for humans.
	Decision string `json:"decision"`
	// Resolvable is true when `recoup review resolve` may act on it: it
	// was not applied.
	Resolvable bool  `json:"resolvable"`
	Rows       []Row `json:"rows"`
}

// Current states of a row (Row.CurrentState): what the run knew about the
// row on the new master.
const (
	CurrentFound      = "found"       // Row.Current holds it
	CurrentAbsent     = "absent"      // no row at the change's key
	CurrentBefore     = "before"      // equal to the before-image (verdict apply)
	CurrentAfter      = "after"       // equal to the after-image (verdict already-applied)
	CurrentNotChecked = "not-checked" // the run did not read it (dependency or schema change)
)

// Row is one row change of a conflict, with its images.
type Row struct {
	Index int    `json:"index"`
	Table string `json:"table"`
	// TableDef indexes Report.Tables; -1 when the run did not provide the
	// table's definition (review cannot act on the row then).
	TableDef     int      `json:"table_def"`
	Change       string   `json:"change"`
	Key          string   `json:"key"`
	Verdict      string   `json:"verdict"`
	Reason       string   `json:"reason,omitempty"`
	Before       *Image   `json:"before"`
	After        *Image   `json:"after"`
	Current      *Image   `json:"current"`
	CurrentState string   `json:"current_state"`
	DiffColumns  []string `json:"diff_columns,omitempty"`
}

// ColumnNames are the row's column names, from whichever image it has.
func (r *Row) ColumnNames() []string {
	for _, im := range []*Image{r.After, r.Before, r.Current} {
		if im != nil {
			return im.Columns
		}
	}
	return nil
}

// CurrentImage is the row on the new master as the run knew it: Current,
// or the before- or after-image it was equal to; nil when absent or not
// read.
func (r *Row) CurrentImage() *Image {
	switch r.CurrentState {
	case CurrentFound:
		return r.Current
	case CurrentBefore:
		return r.Before
	case CurrentAfter:
		return r.After
	}
	return nil
}

// ExpectedImage is what the change expects to find: the after-image of an
// insert, else the before-image.
func (r *Row) ExpectedImage() *Image {
	if r.Change == "insert" {
		return r.After
	}
	return r.Before
}
