package conflict

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("want the scenario scripts under testdata/, found %d", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s, err := parseScript(string(text))
			if err != nil {
				t.Fatalf("parsing %s: %v", f, err)
			}
			res, err := s.run()
			if err != nil {
				t.Fatalf("running %s: %v", f, err)
			}
			checkExpects(t, s, res)
		})
	}
}

func checkExpects(t *testing.T, s *script, res *result) {
	t.Helper()
	asserted := map[repl.GTID]bool{}
	for _, e := range s.expects {
		switch e.kind {
		case "txn":
			asserted[e.gtid] = true
			checkTxn(t, e, res)
		case "row":
			checkRow(t, e, res)
		case "master":
			if mt := s.master.tables[e.table.QualifiedName()]; mt == nil || mt.find(e.row) < 0 {
				t.Errorf("line %d: the master lacks row %v; it has %v", e.line, e.row, mt.rowsOrNil())
			}
		case "count":
			if n := len(s.master.tables[e.table.QualifiedName()].rowsOrNil()); n != e.count {
				t.Errorf("line %d: master table %s has %d rows, want %d", e.line, e.table.Name, n, e.count)
			}
		}
	}
	for _, g := range res.order {
		if !asserted[g] {
			t.Errorf("transaction %s has no expect line (verdict %s)", g, res.decisions[g].Verdict)
		}
	}
}

func (mt *mtable) rowsOrNil() []repl.Row {
	if mt == nil {
		return nil
	}
	return mt.rows
}

func checkTxn(t *testing.T, e expect, res *result) {
	t.Helper()
	d, ok := res.decisions[e.gtid]
	if !ok {
		t.Errorf("line %d: no decision for %s", e.line, e.gtid)
		return
	}
	if d.Verdict != e.verdict {
		t.Errorf("line %d: %s is %s (%s), want %s", e.line, e.gtid, d.Verdict, d.Reason, e.verdict)
	}
	for k, v := range e.opts {
		switch k {
		case "depends":
			if d.DependsOn == nil || d.DependsOn.String() != v {
				t.Errorf("line %d: %s depends on %v, want %s", e.line, e.gtid, d.DependsOn, v)
			}
		case "reason":
			if !strings.Contains(d.Reason, v) {
				t.Errorf("line %d: %s reason %q lacks %q", e.line, e.gtid, d.Reason, v)
			}
		default:
			t.Errorf("line %d: unknown option %q", e.line, k)
		}
	}
	if _, ok := e.opts["depends"]; !ok && d.DependsOn != nil {
		t.Errorf("line %d: %s depends on %s, which the script does not expect", e.line, e.gtid, d.DependsOn)
	}
}

func checkRow(t *testing.T, e expect, res *result) {
	t.Helper()
	d, ok := res.decisions[e.gtid]
	if !ok || e.index >= len(d.Rows) {
		t.Errorf("line %d: no row %d decided for %s", e.line, e.index, e.gtid)
		return
	}
	r := d.Rows[e.index]
	if r.Verdict != e.verdict {
		t.Errorf("line %d: %s row %d is %s (%s), want %s", e.line, e.gtid, e.index, r.Verdict, r.Reason, e.verdict)
	}
	for k, v := range e.opts {
		switch k {
		case "diff":
			var names []string
			for _, c := range r.DiffColumns {
				names = append(names, r.columnName(c))
			}
			if got := strings.Join(names, ","); got != v {
				t.Errorf("line %d: %s row %d differs in %q, want %q", e.line, e.gtid, e.index, got, v)
			}
		case "current":
			checkCurrent(t, e, res, r, v)
		case "reason":
			if !strings.Contains(r.Reason, v) {
				t.Errorf("line %d: %s row %d reason %q lacks %q", e.line, e.gtid, e.index, r.Reason, v)
			}
		default:
			t.Errorf("line %d: unknown option %q", e.line, k)
		}
	}
}

func checkCurrent(t *testing.T, e expect, res *result, r RowDecision, want string) {
	t.Helper()
	if want == "absent" {
		if r.Current != nil {
			t.Errorf("line %d: %s row %d current is %v, want absent", e.line, e.gtid, e.index, r.Current)
		}
		return
	}
	toks, err := tokenize(want)
	if err != nil {
		t.Fatalf("line %d: %v", e.line, err)
	}
	row, err := parseRow(res.txns[e.gtid].Changes[e.index].Table, toks)
	if err != nil {
		t.Fatalf("line %d: current=%q: %v", e.line, want, err)
	}
	if !row.Equal(r.Current) {
		t.Errorf("line %d: %s row %d current is %v, want %v", e.line, e.gtid, e.index, r.Current, row)
	}
}

// errExec marks a failure to execute a plan on the simulated master: the
// planner promised something the master does not hold.
var errExec = errors.New("plan does not execute")

// FuzzScript feeds arbitrary scripts to the parser (which must not panic)
// and runs those that parse: whatever the new master holds and whatever the
// transactions say, the plans must execute on the simulated master (a row
// decided apply finds its before-image and takes no key).
func FuzzScript(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, name := range files {
		text, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(text))
	}
	f.Add("table t id:int pk=id\ntxn 0-1-1 insert t id=1\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := parseScript(text)
		if err != nil {
			return
		}
		res, err := s.run()
		if errors.Is(err, errExec) {
			t.Fatalf("a plan does not execute: %v", err)
		}
		if err != nil {
			return // e.g. a table redefined with other columns before its rows were fetched
		}
		for _, g := range res.order {
			d := res.decisions[g]
			if len(d.Rows) != len(res.txns[g].Changes) {
				t.Fatalf("%s: %d row decisions for %d changes", g, len(d.Rows), len(res.txns[g].Changes))
			}
		}
	})
}
