package streamer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/repl"
)

// serverFacts are the server's character set rules: the default collation
// of each character set and the character set of each collation.
type serverFacts struct {
	defaultColl map[string]string
	collCharset map[string]string
}

// resolve completes a (charset, collation) pair the way the server does:
// a charset alone takes its default collation, a collation alone its
// charset. Unknown names are errFallback: never guess.
func (f *serverFacts) resolve(cs, coll string) (string, string, error) {
	cs, coll = strings.ToLower(cs), strings.ToLower(coll)
	if coll != "" {
		ccs, ok := f.collCharset[coll]
		if !ok || (cs != "" && ccs != cs) {
			return "", "", fmt.Errorf("%w: collation %q of charset %q unknown to the server's information_schema", errFallback, coll, cs)
		}
		return ccs, coll, nil
	}
	d, ok := f.defaultColl[cs]
	if !ok {
		return "", "", fmt.Errorf("%w: character set %q unknown to the server's information_schema", errFallback, cs)
	}
	return cs, d, nil
}

func (h *schemaHistory) serverFacts(ctx context.Context) (*serverFacts, error) {
	if h.facts != nil {
		return h.facts, nil
	}
	f := &serverFacts{defaultColl: map[string]string{}, collCharset: map[string]string{}}
	if err := queryPairs(ctx, h.db, f.defaultColl,
		"SELECT CHARACTER_SET_NAME, DEFAULT_COLLATE_NAME FROM information_schema.CHARACTER_SETS"); err != nil {
		return nil, err
	}
	if err := queryPairs(ctx, h.db, f.collCharset,
		"SELECT COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE CHARACTER_SET_NAME IS NOT NULL"); err != nil {
		return nil, err
	}
	h.facts = f
	return f, nil
}

func queryPairs(ctx context.Context, db *sql.DB, into map[string]string, q string, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("reading server facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("reading server facts: %w", err)
		}
		into[strings.ToLower(k)] = strings.ToLower(v)
	}
	return rows.Err()
}

// schemaDefault is a schema's default character set and collation.
func (h *schemaHistory) schemaDefault(ctx context.Context, schema string) (string, string, error) {
	if d, ok := h.dbDflt[schema]; ok {
		return d[0], d[1], nil
	}
	var cs, coll string
	err := h.db.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", schema).Scan(&cs, &coll)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("%w: schema %s no longer exists", errFallback, schema)
	}
	if err != nil {
		return "", "", fmt.Errorf("reading the default character set of schema %s: %w", schema, err)
	}
	h.dbDflt[schema] = [2]string{cs, coll}
	return cs, coll, nil
}

// listTables lists the captured base tables.
func (h *schemaHistory) listTables(ctx context.Context) ([]tableKey, error) {
	rows, err := h.db.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')")
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	defer rows.Close()
	var keys []tableKey
	for rows.Next() {
		var k tableKey
		if err := rows.Scan(&k.schema, &k.name); err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		if h.captures(k.schema) {
			keys = append(keys, k)
		}
	}
	return keys, rows.Err()
}

// quoteIdent quotes an identifier for the statements that take no bound
// parameter for it (SHOW CREATE TABLE).
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// showCreate returns SHOW CREATE TABLE's text, found=false when the table
// does not exist.
func (h *schemaHistory) showCreate(ctx context.Context, k tableKey) (text string, found bool, err error) {
	var name string
	err = h.db.QueryRowContext(ctx, "SHOW CREATE TABLE "+quoteIdent(k.schema)+"."+quoteIdent(k.name)).Scan(&name, &text)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1146 {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("SHOW CREATE TABLE %s: %w", k, err)
	}
	return text, true, nil
}

// fromInfoSchema reads a table from information_schema; found is false
// when the table has no columns there (it does not exist).
func (h *schemaHistory) fromInfoSchema(ctx context.Context, k tableKey) (*tableEntry, bool, error) {
	cols, err := h.infoColumns(ctx, k)
	if err != nil || len(cols) == 0 {
		return nil, false, err
	}
	t := repl.Table{Schema: k.schema, Name: k.name, Columns: cols}
	if err := h.infoKeys(ctx, &t); err != nil {
		return nil, false, err
	}
	var tcoll sql.NullString
	err = h.db.QueryRowContext(ctx, "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", k.schema, k.name).Scan(&tcoll)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, false, fmt.Errorf("reading the collation of %s: %w", k, err)
	}
	e := &tableEntry{t: t, collation: strings.ToLower(tcoll.String)}
	if f, ferr := h.serverFacts(ctx); ferr == nil && e.collation != "" {
		e.charset = f.collCharset[e.collation]
	}
	return e, true, t.Validate()
}

var typeArgsRe = regexp.MustCompile(`^[a-z ]+\((.*)\)`)

func (h *schemaHistory) infoColumns(ctx context.Context, k tableKey) ([]repl.Column, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, COLLATION_NAME, DATETIME_PRECISION, EXTRA
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, k.schema, k.name)
	if err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", k, err)
	}
	defer rows.Close()
	var cols []repl.Column
	for rows.Next() {
		var c repl.Column
		var colType, nullable, extra string
		var cs, coll sql.NullString
		var fsp sql.NullInt64
		if err := rows.Scan(&c.Name, &c.Type, &colType, &nullable, &cs, &coll, &fsp, &extra); err != nil {
			return nil, fmt.Errorf("reading columns of %s: %w", k, err)
		}
		c.Type, colType = strings.ToLower(c.Type), strings.ToLower(colType)
		c.Nullable = nullable == "YES"
		c.Unsigned = strings.Contains(colType, " unsigned")
		c.Charset, c.Collation = strings.ToLower(cs.String), strings.ToLower(coll.String)
		extra = strings.ToUpper(extra)
		switch {
		case strings.Contains(extra, "VIRTUAL GENERATED"):
			c.Generated = "virtual"
		case strings.Contains(extra, "STORED GENERATED") || strings.Contains(extra, "PERSISTENT GENERATED"):
			c.Generated = "stored"
		}
		if err := typeArgs(&c, colType, fsp); err != nil {
			return nil, fmt.Errorf("column %s of %s: %w", c.Name, k, err)
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// typeArgs reads length, decimals and members from COLUMN_TYPE, e.g.
// "decimal(10,2) unsigned", "enum('a','b”c')", "datetime(6)".
func typeArgs(c *repl.Column, colType string, fsp sql.NullInt64) error {
	switch c.Type {
	case "datetime", "timestamp", "time":
		c.Decimals = int(fsp.Int64)
		return nil
	case "enum", "set":
		m, err := parseEnumMembers(colType[len(c.Type):])
		c.Members = m
		return err
	}
	m := typeArgsRe.FindStringSubmatch(colType)
	if m == nil {
		return nil
	}
	nums := strings.Split(m[1], ",")
	n0, err := strconv.Atoi(strings.TrimSpace(nums[0]))
	if err != nil {
		return fmt.Errorf("column type %q: %w", colType, err)
	}
	c.Length = n0
	if len(nums) == 2 {
		if c.Decimals, err = strconv.Atoi(strings.TrimSpace(nums[1])); err != nil {
			return fmt.Errorf("column type %q: %w", colType, err)
		}
	}
	return nil
}

// parseEnumMembers reads "('a','b”c')" as information_schema prints ENUM and
// SET members: single quotes, a quote doubled inside.
func parseEnumMembers(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return nil, fmt.Errorf("ENUM/SET members %q", s)
	}
	body := s[1 : len(s)-1]
	var out []string
	for i := 0; i < len(body); {
		if body[i] != '\'' {
			return nil, fmt.Errorf("ENUM/SET members %q", s)
		}
		var b strings.Builder
		j := i + 1
		for ; j < len(body); j++ {
			if body[j] != '\'' {
				b.WriteByte(body[j])
				continue
			}
			if j+1 < len(body) && body[j+1] == '\'' {
				b.WriteByte('\'')
				j++
				continue
			}
			break
		}
		if j >= len(body) {
			return nil, fmt.Errorf("ENUM/SET members %q: unterminated quote", s)
		}
		out = append(out, b.String())
		i = j + 1
		if i < len(body) {
			if body[i] != ',' || i+1 == len(body) {
				return nil, fmt.Errorf("ENUM/SET members %q", s)
			}
			i++
		}
	}
	return out, nil
}

// infoKeys reads the primary key and unique keys from
// information_schema.STATISTICS; a key with an expression part is left
// out.
func (h *schemaHistory) infoKeys(ctx context.Context, t *repl.Table) error {
	rows, err := h.db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`, t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("reading keys of %s: %w", t.QualifiedName(), err)
	}
	defer rows.Close()
	keys := map[string][]int{}
	var order []string
	functional := map[string]bool{}
	for rows.Next() {
		var name string
		var col sql.NullString
		if err := rows.Scan(&name, &col); err != nil {
			return fmt.Errorf("reading keys of %s: %w", t.QualifiedName(), err)
		}
		if _, seen := keys[name]; !seen {
			order = append(order, name)
		}
		i := t.ColumnIndex(col.String)
		if !col.Valid || i < 0 {
			functional[name] = true
		}
		keys[name] = append(keys[name], i)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading keys of %s: %w", t.QualifiedName(), err)
	}
	sort.Strings(order)
	for _, name := range order {
		switch {
		case functional[name]:
		case name == "PRIMARY":
			t.PrimaryKey = keys[name]
		default:
			t.UniqueKeys = append(t.UniqueKeys, repl.UniqueKey{Name: name, Columns: keys[name]})
		}
	}
	return nil
}
