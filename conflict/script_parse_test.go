package conflict

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// A scenario script describes a compensation run, one directive a line
// ('#' starts a comment):
//
//	policy report|source-wins|abort
//	table t1 id:int v:varchar u:int? pk=id unique=uk_u:u
//	current t1 id=1 v=a u=NULL          a row on the new master
//	txn 0-1-5 [insert|update|delete ...] starts a transaction
//	update t1 id=1 v=a u=NULL -> id=1 v=b u=NULL
//	insert t1 ...  /  delete t1 ...      more changes of the transaction
//	stmt ALTER TABLE ...                 a non-row statement of it
//	batch                                decide the transactions read so far
//	apply                                execute the decided plans on the master
//	expect 0-1-5 apply [depends=0-1-4] [reason="substring"]
//	expect-row 0-1-5 0 conflict [diff=v,u] [current=absent|current="id=1 v=c u=NULL"]
//	expect-master t1 id=1 v=b u=NULL     the master holds this row (after apply)
//	expect-count t1 2                    the master's row count
//
// Column types: int, uint, double, float, varchar (utf8mb4), varbinary
// (0x hex), decimal, date, datetime, timestamp; a trailing '?' makes the
// column nullable. Values: NULL, bare words, or Go-quoted strings. Every
// row lists every column of its table.
type script struct {
	policy  Policy
	tables  map[string]*repl.Table
	master  *master
	steps   []step
	expects []expect
}

type step struct {
	kind string // "txn", "batch" or "apply"
	txn  repl.Txn
	line int
}

type expect struct {
	line    int
	kind    string // "txn", "row", "master", "count"
	gtid    repl.GTID
	index   int
	verdict Verdict
	opts    map[string]string
	table   *repl.Table
	row     repl.Row
	count   int
}

func parseScript(text string) (*script, error) {
	s := &script{policy: PolicyReport, tables: map[string]*repl.Table{}, master: newMaster()}
	for n, line := range strings.Split(text, "\n") {
		toks, err := tokenize(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if len(toks) == 0 {
			continue
		}
		if err := s.directive(n+1, toks); err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", n+1, toks[0], err)
		}
	}
	return s, nil
}

func (s *script) directive(line int, toks []string) error {
	switch toks[0] {
	case "policy":
		if len(toks) != 2 {
			return errors.New("want one policy")
		}
		p, err := ParsePolicy(toks[1])
		s.policy = p
		return err
	case "table":
		return s.table(toks[1:])
	case "current":
		t, r, err := s.row(toks[1:])
		if err != nil {
			return err
		}
		return s.master.add(t, r)
	case "txn", "insert", "update", "delete", "stmt":
		return s.txn(line, toks)
	case "batch", "apply":
		s.steps = append(s.steps, step{kind: toks[0], line: line})
		return nil
	case "expect", "expect-row", "expect-master", "expect-count":
		return s.expect(line, toks)
	}
	return errors.New("unknown directive")
}

// tokenize splits a line on blanks, keeping Go-quoted sections inside a
// token, and drops a '#' comment.
func tokenize(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	inTok := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			end, err := quoteEnd(line, i)
			if err != nil {
				return nil, err
			}
			cur.WriteString(line[i : end+1])
			i, inTok = end, true
		case c == '#':
			i = len(line)
		case c == ' ' || c == '\t' || c == '\r':
			if inTok {
				toks, inTok = append(toks, cur.String()), false
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
			inTok = true
		}
	}
	if inTok {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

func quoteEnd(line string, start int) (int, error) {
	for j := start + 1; j < len(line); j++ {
		switch line[j] {
		case '\\':
			j++
		case '"':
			return j, nil
		}
	}
	return 0, errors.New("unterminated quoted string")
}

// table parses: name col:type[?]... [pk=cols] [unique=name:cols]...
func (s *script) table(toks []string) error {
	if len(toks) < 2 {
		return errors.New("want a name and columns")
	}
	t := &repl.Table{Schema: "db", Name: toks[0]}
	var keys []string
	for _, tok := range toks[1:] {
		if strings.HasPrefix(tok, "pk=") || strings.HasPrefix(tok, "unique=") {
			keys = append(keys, tok)
			continue
		}
		name, typ, ok := strings.Cut(tok, ":")
		if !ok || name == "" || t.ColumnIndex(name) >= 0 {
			return fmt.Errorf("bad or duplicate column %q", tok)
		}
		nullable := strings.HasSuffix(typ, "?")
		typ = strings.TrimSuffix(typ, "?")
		if _, err := parseValue(typ, "0"); err != nil {
			return err
		}
		t.Columns = append(t.Columns, repl.Column{Name: name, Type: typ, Nullable: nullable})
	}
	for _, k := range keys {
		if err := addKey(t, k); err != nil {
			return err
		}
	}
	s.tables[t.Name] = t
	return nil
}

func addKey(t *repl.Table, tok string) error {
	kind, spec, _ := strings.Cut(tok, "=")
	name := "PRIMARY"
	if kind == "unique" {
		var ok bool
		if name, spec, ok = strings.Cut(spec, ":"); !ok {
			return fmt.Errorf("want unique=name:cols, got %q", tok)
		}
	}
	var cols []int
	for _, c := range strings.Split(spec, ",") {
		i := t.ColumnIndex(c)
		if i < 0 {
			return fmt.Errorf("key %s: no column %q", name, c)
		}
		cols = append(cols, i)
	}
	if kind == "pk" {
		t.PrimaryKey = cols
	} else {
		t.UniqueKeys = append(t.UniqueKeys, repl.UniqueKey{Name: name, Columns: cols})
	}
	return nil
}

// row parses: table col=val...
func (s *script) row(toks []string) (*repl.Table, repl.Row, error) {
	if len(toks) == 0 {
		return nil, nil, errors.New("want a table")
	}
	t := s.tables[toks[0]]
	if t == nil {
		return nil, nil, fmt.Errorf("unknown table %q", toks[0])
	}
	r, err := parseRow(t, toks[1:])
	return t, r, err
}

func parseRow(t *repl.Table, toks []string) (repl.Row, error) {
	r := make(repl.Row, len(t.Columns))
	set := make([]bool, len(t.Columns))
	for _, tok := range toks {
		name, val, ok := strings.Cut(tok, "=")
		i := t.ColumnIndex(name)
		if !ok || i < 0 || set[i] {
			return nil, fmt.Errorf("bad, unknown or repeated column in %q", tok)
		}
		v, err := parseValue(t.Columns[i].Type, val)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", name, err)
		}
		r[i], set[i] = v, true
	}
	for i, ok := range set {
		if !ok {
			return nil, fmt.Errorf("column %s missing", t.Columns[i].Name)
		}
	}
	return r, nil
}

func parseValue(typ, text string) (repl.Value, error) {
	if text == "NULL" {
		return repl.Null(), nil
	}
	if strings.HasPrefix(text, `"`) {
		u, err := strconv.Unquote(text)
		if err != nil {
			return repl.Value{}, fmt.Errorf("bad quoted value %s", text)
		}
		text = u
	}
	switch typ {
	case "int":
		n, err := strconv.ParseInt(text, 10, 64)
		return repl.IntValue(n), err
	case "uint":
		n, err := strconv.ParseUint(text, 10, 64)
		return repl.UintValue(n), err
	case "double":
		f, err := strconv.ParseFloat(text, 64)
		return repl.Float64Value(f), err
	case "float":
		f, err := strconv.ParseFloat(text, 32)
		return repl.Float32Value(float32(f)), err
	case "varchar":
		return repl.StringValue([]byte(text), "utf8mb4"), nil
	case "varbinary":
		b, err := hex.DecodeString(strings.TrimPrefix(text, "0x"))
		return repl.BytesValue(b), err
	}
	kinds := map[string]repl.Kind{"decimal": repl.KindDecimal, "date": repl.KindDate,
		"datetime": repl.KindDateTime, "timestamp": repl.KindTimestamp}
	if k, ok := kinds[typ]; ok {
		return repl.TextValue(k, []byte(text)), nil
	}
	return repl.Value{}, fmt.Errorf("unknown column type %q", typ)
}
