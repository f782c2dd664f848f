package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/recoup-dev/recoup/applier"
	"github.com/recoup-dev/recoup/applier/report"
	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

const reviewUsage = `usage:
  recoup review list    --report FILE.json [--all]
  recoup review show    --report FILE.json N [--live --config recoup.yaml [--new-master host:port]]
  recoup review resolve --report FILE.json N --apply|--discard [--config recoup.yaml]
                        [--new-master host:port] [--force] [--by NAME] [--note TEXT]`

// errChanged: the re-check found the new master's rows changed since the
// report.
var errChanged = errors.New("the new master's rows changed since the report")

// runReview is `recoup review`: list, show and resolve the conflicts of a
// compensation report.
func runReview(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, reviewUsage)
		return fmt.Errorf("%w: review needs a subcommand: list, show or resolve", errUsage)
	}
	switch args[0] {
	case "list":
		return reviewList(args[1:], stdout, stderr)
	case "show":
		return reviewShow(ctx, args[1:], stdout, stderr)
	case "resolve":
		return reviewResolve(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, reviewUsage)
	return fmt.Errorf("%w: unknown review subcommand %q", errUsage, args[0])
}

// reviewArgs are the flags of the review subcommands.
type reviewArgs struct {
	report, config, newMaster, by, note string
	all, apply, discard, force, live    bool
	n                                   int
}

// parseReviewArgs parses flags before and after the conflict number.
func parseReviewArgs(name string, args []string, stderr io.Writer, wantN bool) (*reviewArgs, error) {
	fs := newFlagSet("review "+name, stderr)
	a := &reviewArgs{}
	fs.StringVar(&a.report, "report", "", "the report's JSON file (required)")
	switch name {
	case "list":
		fs.BoolVar(&a.all, "all", false, "list every conflict, resolved or not")
	case "show":
		fs.BoolVar(&a.live, "live", false, "re-check the rows on the new master now (needs --config)")
		fs.StringVar(&a.config, "config", "recoup.yaml", "config file (for --live)")
		fs.StringVar(&a.newMaster, "new-master", "", "host:port to re-check on (default: the report's new master)")
	case "resolve":
		fs.BoolVar(&a.apply, "apply", false, "write the old master's change on the new master")
		fs.BoolVar(&a.discard, "discard", false, "keep the new master's rows; only record the decision")
		fs.StringVar(&a.config, "config", "recoup.yaml", "config file (for --apply)")
		fs.StringVar(&a.newMaster, "new-master", "", "host:port to apply on (default: the report's new master)")
		fs.BoolVar(&a.force, "force", false, "apply even if the rows changed since the report, or the report is a dry run")
		fs.StringVar(&a.by, "by", "", "who decides (default: $USER)")
		fs.StringVar(&a.note, "note", "", "a note recorded with the decision")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	rest := fs.Args()
	if wantN && len(rest) > 0 {
		n, err := strconv.Atoi(rest[0])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%w: %q is not a conflict number", errUsage, rest[0])
		}
		a.n = n
		if err := fs.Parse(rest[1:]); err != nil {
			return nil, err
		}
		rest = fs.Args()
	}
	switch {
	case len(rest) > 0:
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	case a.report == "":
		return nil, fmt.Errorf("%w: --report is required", errUsage)
	case wantN && a.n == 0:
		return nil, fmt.Errorf("%w: the conflict number is required", errUsage)
	case name == "resolve" && a.apply == a.discard:
		return nil, fmt.Errorf("%w: give exactly one of --apply or --discard", errUsage)
	}
	return a, nil
}

// loadReview reads a report and its decisions.
func loadReview(path string) (*report.Report, map[int]report.Decision, error) {
	r, err := report.Read(path)
	if err != nil {
		return nil, nil, err
	}
	d, err := report.ReadDecisions(path)
	if err != nil {
		return nil, nil, err
	}
	return r, d, nil
}

func reviewList(args []string, stdout, stderr io.Writer) error {
	a, err := parseReviewArgs("list", args, stderr, false)
	if err != nil {
		return err
	}
	r, decisions, err := loadReview(a.report)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "N\tGTID\tVERDICT\tTABLES\tROWS\tSTATUS\tREASON")
	shown := 0
	for i := range r.Conflicts {
		c := &r.Conflicts[i]
		d, decided := decisions[c.N]
		if !a.all && (decided || !c.Resolvable) {
			continue
		}
		shown++
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", c.N, termSafe(c.GTID), termSafe(c.Verdict), termSafe(strings.Join(c.Tables, ",")),
			len(c.Rows), reviewStatus(c, d, decided), termSafe(clipRunes(c.Reason, 70)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if shown == 0 {
		_, err = fmt.Fprintln(stdout, "no open conflicts")
	}
	return err
}

func reviewStatus(c *report.Conflict, d report.Decision, decided bool) string {
	switch {
	case decided:
		return termSafe(d.Action + " by " + d.By)
	case !c.Resolvable:
		return "done (" + termSafe(c.Verdict) + ")"
	}
	return "open"
}

// termSafe makes untrusted text safe for a terminal: control characters
// (escape sequences) are shown escaped.
func termSafe(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			q := strconv.Quote(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func reviewShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := parseReviewArgs("show", args, stderr, true)
	if err != nil {
		return err
	}
	r, decisions, err := loadReview(a.report)
	if err != nil {
		return err
	}
	c, err := r.Conflict(a.n)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	d, decided := decisions[c.N]
	w := &reviewWriter{w: stdout}
	w.printf("conflict %d of report %s (cluster %s)\n", c.N, termSafe(r.ID), termSafe(r.Cluster))
	w.printf("  gtid:       %s\n  committed:  %s\n  verdict:    %s\n  reason:     %s\n", termSafe(c.GTID),
		c.CommitTime.UTC().Format(time.RFC3339), termSafe(c.Verdict), termSafe(c.Reason))
	if c.DependsOn != "" {
		w.printf("  depends on: %s\n", termSafe(c.DependsOn))
	}
	w.printf("  decision:   %s\n  status:     %s\n", termSafe(c.Decision), reviewStatus(c, d, decided))
	w.printf("  (in the rows: * changed by the lost transaction, ! differs on the new master)\n")
	for i := range c.Rows {
		showReviewRow(w, &c.Rows[i])
	}
	if a.live {
		if err := showLiveRecheck(ctx, w, a, r, c); err != nil {
			return err
		}
	}
	w.printf("\n%s", termLines(r.ScriptFor(c).Text))
	return w.err
}

// showLiveRecheck re-checks the conflict's rows on the new master now.
func showLiveRecheck(ctx context.Context, w *reviewWriter, a *reviewArgs, r *report.Report, c *report.Conflict) error {
	txn, err := r.Txn(c)
	if err != nil {
		return err
	}
	nmc, err := connectNewMaster(a, r)
	if err != nil {
		return err
	}
	defer nmc.db.Close()
	ctx, cancel := context.WithTimeout(ctx, nmc.timeout)
	defer cancel()
	d, err := applier.Recheck(ctx, nmc.db, nmc.flavor, txn)
	if err != nil {
		return fmt.Errorf("re-checking conflict %d on %s: %w", c.N, nmc.addr, err)
	}
	if problems := recheckRows(c, d); len(problems) > 0 {
		w.printf("\nlive re-check on %s: %s:\n  %s\n", nmc.addr, errChanged, strings.Join(problems, "\n  "))
		return nil
	}
	w.printf("\nlive re-check on %s: the rows are as the report shows them (now: %s)\n", nmc.addr, d.Verdict)
	return nil
}

// termLines is termSafe for multi-line text: newlines stay.
func termLines(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = termSafe(lines[i])
	}
	return strings.Join(lines, "\n")
}

// showReviewRow prints one row's images side by side: * marks a column the
// lost transaction changed, ! one that differs on the new master.
func showReviewRow(w *reviewWriter, row *report.Row) {
	w.printf("\nrow %d: %s %s %s: %s", row.Index, row.Change, termSafe(row.Table), termSafe(row.Key), row.Verdict)
	if row.Reason != "" {
		w.printf(" (%s)", termSafe(row.Reason))
	}
	w.printf("\n  current on the new master: %s\n", row.CurrentState)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  COLUMN\tBEFORE\tAFTER\tCURRENT\t")
	cur, expect := row.CurrentImage(), row.ExpectedImage()
	for i, name := range row.ColumnNames() {
		b, af, c := reviewCell(row.Before, i), reviewCell(row.After, i), reviewCell(cur, i)
		if row.Before != nil && row.After != nil && !row.Before.Values[i].Equal(row.After.Values[i]) {
			af = "*" + af
		}
		if cur != nil && expect != nil && !cur.Values[i].Equal(expect.Values[i]) {
			c = "!" + c
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", termSafe(name), b, af, c)
	}
	if err := tw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

func reviewCell(im *report.Image, i int) string {
	if im == nil || i >= len(im.Values) {
		return "-"
	}
	return termSafe(clipRunes(report.DisplayValue(im.Values[i]), 60))
}

// reviewWriter keeps the first write error.
type reviewWriter struct {
	w   io.Writer
	err error
}

func (e *reviewWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *reviewWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// reviewerName is who takes the decision: --by, else $USER, else the OS user.
func reviewerName(by string) (string, error) {
	if by != "" {
		return by, nil
	}
	if u := os.Getenv("USER"); u != "" {
		return u, nil
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username, nil
	}
	return "", fmt.Errorf("%w: cannot tell who you are: pass --by NAME", errUsage)
}

func reviewResolve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := parseReviewArgs("resolve", args, stderr, true)
	if err != nil {
		return err
	}
	unlock, err := report.LockDecisions(a.report)
	if err != nil {
		return err
	}
	defer unlock()
	r, decisions, err := loadReview(a.report) // read under the lock
	if err != nil {
		return err
	}
	c, err := r.Conflict(a.n)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if d, ok := decisions[c.N]; ok {
		return fmt.Errorf("conflict %d is already resolved: %s by %s at %s", c.N, d.Action, d.By, d.At.Format(time.RFC3339))
	}
	if !c.Resolvable {
		return fmt.Errorf("conflict %d needs no decision: %s", c.N, c.Decision)
	}
	by, err := reviewerName(a.by)
	if err != nil {
		return err
	}
	d := report.Decision{Conflict: c.N, GTID: c.GTID, Action: report.ActionDiscard, By: by, Note: a.note}
	if a.apply {
		d.Action = report.ActionApply
		if d.NewMaster, d.Forced, err = applyConflict(ctx, a, r, c, stderr); err != nil {
			return err
		}
	}
	d.At = time.Now().UTC()
	if err := report.AppendDecision(a.report, d); err != nil {
		return err
	}
	decisions[c.N] = d
	if err := report.WriteHTML(report.HTMLPath(a.report), r, decisions); err != nil {
		fmt.Fprintf(stderr, "warning: the decision is recorded but the HTML page was not updated: %v\n", err)
	}
	_, err = fmt.Fprintf(stdout, "conflict %d (%s): %s by %s, recorded in %s\n", c.N, termSafe(c.GTID), d.Action, termSafe(by),
		report.DecisionsPath(a.report))
	return err
}

// applyConflict writes conflict c's change on the new master after
// re-checking its rows, and returns where it applied and whether --force
// overrode a failed re-check.
func applyConflict(ctx context.Context, a *reviewArgs, r *report.Report, c *report.Conflict, stderr io.Writer) (string, bool, error) {
	if r.DryRun && !a.force {
		return "", false, fmt.Errorf("the report is a dry run (recoup plan): compensate first, or pass --force")
	}
	txn, err := r.Txn(c)
	if err != nil {
		return "", false, err
	}
	nmc, err := connectNewMaster(a, r)
	if err != nil {
		return "", false, err
	}
	defer nmc.db.Close()
	ctx, cancel := context.WithTimeout(ctx, nmc.timeout)
	defer cancel()
	forced := false
	_, err = applier.ApplyReviewed(ctx, nmc.db, nmc.flavor, txn, func(d *conflict.TxnDecision) error {
		problems := recheckRows(c, d)
		if len(problems) == 0 {
			return nil
		}
		if !a.force {
			return fmt.Errorf("conflict %d: %w:\n  %s\nnothing was written; look again with `recoup review show`, then "+
				"--discard, or --apply --force", c.N, errChanged, strings.Join(problems, "\n  "))
		}
		forced = true
		fmt.Fprintf(stderr, "warning: --force: applying although %s:\n  %s\n", errChanged, strings.Join(problems, "\n  "))
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("applying conflict %d on %s: %w", c.N, nmc.addr, err)
	}
	return nmc.addr, forced, nil
}

// newMasterConn is the new master review works on.
type newMasterConn struct {
	db      *sql.DB
	flavor  repl.Flavor
	addr    string
	timeout time.Duration
}

// connectNewMaster opens the new master with the cluster's compensation
// credentials: --new-master, else the report's.
func connectNewMaster(a *reviewArgs, r *report.Report) (*newMasterConn, error) {
	cfg, err := LoadConfig(a.config)
	if err != nil {
		return nil, err
	}
	cl, err := cfg.Cluster(r.Cluster)
	if err != nil {
		return nil, err
	}
	flavor, err := repl.ParseFlavor(r.Flavor)
	if err != nil {
		return nil, err
	}
	addr := a.newMaster
	if addr == "" {
		addr = r.Recovery.NewMaster
	}
	if addr == "" {
		return nil, fmt.Errorf("%w: the report does not name the new master: pass --new-master host:port", errUsage)
	}
	if err := validateHostPort(addr); err != nil {
		return nil, fmt.Errorf("%w: --new-master: %v", errUsage, err)
	}
	db, err := openNewMaster(cl, addr)
	if err != nil {
		return nil, err
	}
	return &newMasterConn{db: db, flavor: flavor, addr: addr, timeout: cl.Compensate.Timeout}, nil
}

// recheckRows compares the fresh decision with what the report recorded, row
// by row: same verdict and same current row. A row the run did not read
// passes when it now applies cleanly or is already applied.
func recheckRows(c *report.Conflict, d *conflict.TxnDecision) []string {
	var problems []string
	for i := range c.Rows {
		row, now := &c.Rows[i], &d.Rows[i]
		what := fmt.Sprintf("row %d (%s %s %s)", row.Index, row.Change, termSafe(row.Table), termSafe(row.Key))
		if row.CurrentState == report.CurrentNotChecked {
			if now.Verdict != conflict.Apply && now.Verdict != conflict.AlreadyApplied {
				problems = append(problems, fmt.Sprintf("%s was not read by the run (%s) and now conflicts: %s",
					what, termSafe(row.Reason), termSafe(now.Reason)))
			}
			continue
		}
		if !sameVerdict(row.Verdict, now.Verdict) || !sameCurrent(row.Current, now.Current) {
			problems = append(problems, fmt.Sprintf("%s was %s (%s), is now %s (%s)", what, row.Verdict, termSafe(row.Reason),
				now.Verdict, termSafe(orElse(now.Reason, "current row "+rowSummary(now.Current)))))
		}
	}
	return problems
}

func sameVerdict(was string, now conflict.Verdict) bool {
	if was == string(conflict.ApplyOverwrite) {
		was = string(conflict.Conflict)
	}
	return was == string(now)
}

func sameCurrent(was *report.Image, now repl.Row) bool {
	if was == nil || now == nil {
		return was == nil && now == nil
	}
	return was.Values.Equal(now)
}

func rowSummary(r repl.Row) string {
	if r == nil {
		return "absent"
	}
	parts := make([]string, len(r))
	for i, v := range r {
		parts[i] = clipRunes(report.DisplayValue(v), 30)
	}
	return termSafe("(" + strings.Join(parts, ", ") + ")")
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
