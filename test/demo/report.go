package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// summary is the part of the hook's run record (hook.Summary, saved as
// JSON under <report_dir>/hook-runs/<cluster>/) the demo shows. Read as
// JSON so that the demo depends on the record's format, not on the hook
// package's internals.
type summary struct {
	RecoveryUID  string   `json:"recovery_uid"`
	Outcome      string   `json:"outcome"`
	WritesOpen   bool     `json:"writes_open"`
	WritesOpenMS float64  `json:"writes_open_ms"`
	Reports      []string `json:"reports"`
	Errors       []string `json:"errors"`
	Result       *struct {
		Counts struct {
			Missing   int `json:"missing"`
			Applied   int `json:"applied"`
			Conflicts int `json:"conflicts"`
			NewGTIDs  int `json:"new_gtids"`
			Failed    int `json:"failed"`
		} `json:"counts"`
		Conflicts []string `json:"conflicts"`
	} `json:"compensation"`
}

// loadSummary reads the run record of recovery uid: the only one under dir.
func loadSummary(dir, uid string) (*summary, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*", "hook-*.json"))
	if err != nil || len(files) != 1 {
		return nil, fmt.Errorf("the hook's run record under %s: %d files (%v)", dir, len(files), err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		return nil, fmt.Errorf("reading the hook's run record: %w", err)
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("the hook's run record %s: %w", files[0], err)
	}
	if s.RecoveryUID != uid || s.Result == nil {
		return nil, fmt.Errorf("the hook's run record %s: recovery %q (want %q), compensation present: %v",
			files[0], s.RecoveryUID, uid, s.Result != nil)
	}
	return &s, nil
}

// copyReports copies the hook's reports into dir, which it empties first
// (the demo keeps only the last run's report).
func copyReports(reports []string, dir string) ([]string, error) {
	if len(reports) == 0 {
		return nil, fmt.Errorf("the hook wrote no report")
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	var out []string
	for _, p := range reports {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading the report: %w", err)
		}
		dst := filepath.Join(dir, filepath.Base(p))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return nil, fmt.Errorf("keeping the report: %w", err)
		}
		if abs, err := filepath.Abs(dst); err == nil {
			dst = abs
		}
		out = append(out, dst)
	}
	return out, nil
}

// verify fails the demo when recoup did not account for every lost
// transaction: each one is back (original GTID or a new one) or reported
// as a conflict, and every row the lost inserts wrote is on the new master.
func (r *result) verify() error {
	c := r.sum.Result.Counts
	if got := r.restored + uint64(r.newGTIDs) + uint64(c.Conflicts); got != r.lost.Count() || c.Failed != 0 {
		return fmt.Errorf("recoup accounted for %d of %d lost transactions (%d with original GTIDs, %d new GTIDs, %d conflicts, %d failed)",
			got, r.lost.Count(), r.restored, r.newGTIDs, c.Conflicts, c.Failed)
	}
	if c.Conflicts != 1 || len(r.sum.Result.Conflicts) != 1 || r.sum.Result.Conflicts[0] != firstGTID(r.lost) ||
		r.conflictNote != newMasterNote {
		return fmt.Errorf("want exactly the deliberate conflict, on the first lost transaction of %s, with the new master's row kept:"+
			" %d conflicts %v, row id=%d is %q", r.lost, c.Conflicts, r.sum.Result.Conflicts, conflictRow, r.conflictNote)
	}
	if r.rowsBack != r.lostRows {
		return fmt.Errorf("%d of the %d rows the lost inserts wrote are on the new master", r.rowsBack, r.lostRows)
	}
	if !r.sum.WritesOpen {
		return fmt.Errorf("the hook did not open writes: %s", strings.Join(r.sum.Errors, "; "))
	}
	return nil
}

// firstGTID is the set's lowest GTID ("" when empty).
func firstGTID(s repl.GTIDSet) string {
	for g := range s.All() {
		return g.String()
	}
	return ""
}

func (r *result) print() {
	c := r.sum.Result.Counts
	step("what happened")
	fmt.Printf("    old master %s killed with SIGKILL; replica %s promoted\n", r.oldMaster, r.newMaster)
	fmt.Printf("    a plain failover would have lost:  %d transactions (%s)\n", r.lost.Count(), r.lost)
	fmt.Printf("    recoup restored:                   %d with their original GTIDs", r.restored)
	if r.newGTIDs > 0 {
		fmt.Printf(" + %d under new GTIDs", r.newGTIDs)
	}
	fmt.Printf(" (found in the new master's binary log);\n")
	fmt.Printf("                                       %d of %d lost rows are on the new master\n", r.rowsBack, r.lostRows)
	fmt.Printf("    conflicts:                         %d", c.Conflicts)
	if c.Conflicts > 0 {
		fmt.Printf(" (%s): row id=%d changed on the new master since;\n", strings.Join(r.sum.Result.Conflicts, ", "), conflictRow)
		fmt.Printf("                                       not replayed (policy report): the new master's row stands, the report shows both\n")
	} else {
		fmt.Println()
	}
	fmt.Printf("    writes opened:                     %.0f ms after the hook started (hook process wall time %s)\n",
		r.sum.WritesOpenMS, r.hookWall.Round(time.Millisecond))
	fmt.Printf("    a write through HAProxy now lands: %s\n", r.afterWrite)
	for _, p := range r.reports {
		if strings.HasSuffix(p, ".html") {
			fmt.Printf("    HTML report:                       %s\n", p)
		}
	}
	for _, p := range r.reports {
		if !strings.HasSuffix(p, ".html") {
			fmt.Printf("    other report:                      %s\n", p)
		}
	}
}
