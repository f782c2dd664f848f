package conflict

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

func parseGTID(s string) (repl.GTID, error) {
	if strings.Contains(s, ":") {
		return repl.ParseGTID(repl.MySQL, s)
	}
	return repl.ParseGTID(repl.MariaDB, s)
}

func (s *script) txn(line int, toks []string) error {
	if toks[0] == "txn" {
		if len(toks) < 2 {
			return errors.New("want a GTID")
		}
		g, err := parseGTID(toks[1])
		if err != nil {
			return err
		}
		for _, st := range s.steps {
			if st.kind == "txn" && st.txn.GTID == g {
				return fmt.Errorf("GTID %s used twice", g)
			}
		}
		s.steps = append(s.steps, step{kind: "txn", txn: repl.Txn{GTID: g}, line: line})
		if toks = toks[2:]; len(toks) == 0 {
			return nil
		}
	}
	if len(s.steps) == 0 || s.steps[len(s.steps)-1].kind != "txn" {
		return errors.New("no open transaction")
	}
	txn := &s.steps[len(s.steps)-1].txn
	if toks[0] == "stmt" {
		txn.Statements = append(txn.Statements, repl.Statement{Schema: "db", Query: strings.Join(toks[1:], " ")})
		return nil
	}
	c, err := s.change(toks)
	if err != nil {
		return err
	}
	txn.Changes = append(txn.Changes, c)
	return nil
}

// change parses: insert T ROW | delete T ROW | update T ROW -> ROW.
func (s *script) change(toks []string) (repl.RowChange, error) {
	if len(toks) < 2 {
		return repl.RowChange{}, errors.New("want a change and a table")
	}
	t := s.tables[toks[1]]
	if t == nil {
		return repl.RowChange{}, fmt.Errorf("unknown table %q", toks[1])
	}
	c := repl.RowChange{Table: t}
	var err error
	switch toks[0] {
	case "insert":
		c.After, err = parseRow(t, toks[2:])
	case "delete":
		c.Before, err = parseRow(t, toks[2:])
	case "update":
		arrow := -1
		for i, tok := range toks {
			if tok == "->" {
				arrow = i
			}
		}
		if arrow < 0 {
			return c, errors.New("update wants before -> after")
		}
		if c.Before, err = parseRow(t, toks[2:arrow]); err == nil {
			c.After, err = parseRow(t, toks[arrow+1:])
		}
	default:
		err = fmt.Errorf("unknown change %q", toks[0])
	}
	return c, err
}

func (s *script) expect(line int, toks []string) error {
	e := expect{line: line, opts: map[string]string{}}
	var err error
	switch toks[0] {
	case "expect-count":
		if len(toks) != 3 || s.tables[toks[1]] == nil {
			return errors.New("want a known table and a count")
		}
		e.kind, e.table = "count", s.tables[toks[1]]
		e.count, err = strconv.Atoi(toks[2])
	case "expect-master":
		e.kind = "master"
		e.table, e.row, err = s.row(toks[1:])
	case "expect":
		e.kind = "txn"
		err = e.verdictAndOptions(toks[1:])
	case "expect-row":
		e.kind = "row"
		if len(toks) < 3 {
			return errors.New("want a GTID, a row index and a verdict")
		}
		if e.index, err = strconv.Atoi(toks[2]); err != nil || e.index < 0 {
			return fmt.Errorf("bad row index %q", toks[2])
		}
		err = e.verdictAndOptions(append([]string{toks[1]}, toks[3:]...))
	}
	if err != nil {
		return err
	}
	s.expects = append(s.expects, e)
	return nil
}

// verdictAndOptions parses: GTID VERDICT [key=value|key="quoted"]...
func (e *expect) verdictAndOptions(toks []string) error {
	if len(toks) < 2 {
		return errors.New("want a GTID and a verdict")
	}
	var err error
	if e.gtid, err = parseGTID(toks[0]); err != nil {
		return err
	}
	if e.verdict, err = parseVerdict(toks[1]); err != nil {
		return err
	}
	for _, o := range toks[2:] {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return fmt.Errorf("bad option %q", o)
		}
		if strings.HasPrefix(v, `"`) {
			if v, err = strconv.Unquote(v); err != nil {
				return fmt.Errorf("bad quoted option %q", o)
			}
		}
		e.opts[k] = v
	}
	return nil
}

func parseVerdict(s string) (Verdict, error) {
	switch v := Verdict(s); v {
	case Apply, AlreadyApplied, Conflict, Aborted, ApplyOverwrite:
		return v, nil
	}
	return "", fmt.Errorf("unknown verdict %q", s)
}

// abortPending aborts plans not yet executed when policy abort met a
// conflict, as the applier is told to do.
func abortPending(st *State, plans []*Plan) {
	if g, ok := st.FirstConflict(); ok && st.Policy() == PolicyAbort {
		for _, p := range plans {
			p.Abort("conflict in transaction " + g.String())
		}
	}
}

// result is the outcome of running a script.
type result struct {
	decisions map[repl.GTID]TxnDecision
	txns      map[repl.GTID]*repl.Txn
	order     []repl.GTID
}

// run plays the script's steps: batches are decided against the simulated
// master, apply executes the plans decided so far. Pending transactions
// form a last batch. Under policy abort, a conflict aborts every plan not
// yet executed, as the applier is told to do.
func (s *script) run() (*result, error) {
	st, err := NewState(s.policy)
	if err != nil {
		return nil, err
	}
	var pending []repl.Txn
	var plans []*Plan
	var batches [][]repl.Txn
	executed := 0
	decide := func() error {
		if len(pending) == 0 {
			return nil
		}
		plan, err := st.Decide(pending, s.master.fetch(st.NeededKeys(pending)))
		if err != nil {
			return err
		}
		plans, batches, pending = append(plans, plan), append(batches, pending), nil
		return nil
	}
	abort := func() { abortPending(st, plans[executed:]) }
	for _, stp := range s.steps {
		switch stp.kind {
		case "txn":
			pending = append(pending, stp.txn)
		case "batch":
			err = decide()
		case "apply":
			if err = decide(); err == nil {
				abort()
				for ; executed < len(plans) && err == nil; executed++ {
					if err = s.master.executePlan(batches[executed], plans[executed]); err != nil {
						err = fmt.Errorf("%w: %w", errExec, err)
					}
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", stp.line, err)
		}
	}
	if err := decide(); err != nil {
		return nil, err
	}
	abort()
	res := &result{decisions: map[repl.GTID]TxnDecision{}, txns: map[repl.GTID]*repl.Txn{}}
	for i, p := range plans {
		for j, d := range p.Txns {
			res.decisions[d.GTID] = d
			res.txns[d.GTID] = &batches[i][j]
			res.order = append(res.order, d.GTID)
		}
	}
	return res, nil
}
