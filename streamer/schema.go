package streamer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // value expressions for the parser

	"github.com/recoup-dev/recoup/repl"
)

// schemaHistory is the schema of every captured table at the current binlog
// point. It is seeded from the live server (SHOW CREATE TABLE parsed with
// the TiDB parser) when a session starts, and kept current by parsing each
// DDL query event in binlog order. Whatever the parser cannot read (much
// MariaDB-only syntax) or a DDL it cannot apply with certainty is read from
// information_schema at once instead: the history never guesses.
//
// Stored entries are never modified in place, so a repl.Table handed out
// stays valid after later DDL.
type schemaHistory struct {
	db       *sql.DB
	flavor   repl.Flavor
	captures func(schema string) bool
	log      *slog.Logger
	cluster  string
	parser   *parser.Parser
	tables   map[tableKey]*tableEntry
	missing  map[tableKey]bool    // looked up and not found since the last DDL
	dbDflt   map[string][2]string // schema -> default charset, collation
	facts    *serverFacts
	// at is the position (on the master's history) once the statement or
	// transaction being handled is applied; nil while seeding. A table
	// read from the live server is certain only when the master's position
	// then is within it: nothing ran after.
	at func() repl.GTIDSet
	// changed is set by every DDL applied: the pump then writes a snapshot.
	changed bool
	// check follows a seed read from a master past the captured position,
	// nil when there is none or once it is decided.
	check *seedCheck
}

type tableKey struct{ schema, name string }

func (k tableKey) String() string { return k.schema + "." + k.name }

// tableEntry is one table's schema plus its default character set, which
// later ADD COLUMN statements inherit.
type tableEntry struct {
	t         repl.Table
	charset   string
	collation string
	uncertain bool // read from the live server when it may have been ahead
}

func newHistory(db *sql.DB, flavor repl.Flavor, captures func(string) bool, log *slog.Logger, cluster string) *schemaHistory {
	return &schemaHistory{db: db, flavor: flavor, captures: captures, log: log, cluster: cluster,
		parser: parser.New(), tables: map[tableKey]*tableEntry{}, missing: map[tableKey]bool{}, dbDflt: map[string][2]string{}}
}

// seed (re)reads every captured table from the server.
func (h *schemaHistory) seed(ctx context.Context) error {
	keys, err := h.listTables(ctx)
	if err != nil {
		return err
	}
	h.tables = make(map[tableKey]*tableEntry, len(keys))
	h.missing = map[tableKey]bool{}
	h.dbDflt = map[string][2]string{}
	for _, k := range keys {
		if err := h.reload(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// reload reads one table from SHOW CREATE TABLE, or from information_schema
// when the parser does not understand the statement.
func (h *schemaHistory) reload(ctx context.Context, k tableKey) error {
	text, found, err := h.showCreate(ctx, k)
	if err != nil {
		return err
	}
	if !found {
		delete(h.tables, k)
		return nil
	}
	e, perr := h.fromCreateText(ctx, k, text)
	if perr == nil {
		h.tables[k] = e
		return nil
	}
	h.log.Info("SHOW CREATE TABLE not understood; reading information_schema", "cluster", h.cluster,
		"table", k.String(), "reason", perr.Error())
	return h.fallback(ctx, k)
}

func (h *schemaHistory) fromCreateText(ctx context.Context, k tableKey, text string) (*tableEntry, error) {
	st, err := h.parser.ParseOneStmt(text, "", "")
	if err != nil {
		return nil, err
	}
	ct, ok := st.(*ast.CreateTableStmt)
	if !ok {
		return nil, fmt.Errorf("SHOW CREATE TABLE gave a %T", st)
	}
	return h.fromCreate(ctx, k, ct)
}

// fallback reads one table from information_schema; a table that no
// longer exists leaves the history.
func (h *schemaHistory) fallback(ctx context.Context, k tableKey) error {
	e, found, err := h.fromInfoSchema(ctx, k)
	if err != nil {
		return fmt.Errorf("reading table %s from information_schema: %w", k, err)
	}
	if !found {
		delete(h.tables, k)
		return nil
	}
	h.tables[k] = e
	return nil
}

// lookup returns the schema of a table at the current binlog point, nil
// when the table is neither in the history nor on the server. A captured
// table the history lacks is read from information_schema now.
func (h *schemaHistory) lookup(ctx context.Context, schema, name string) (*repl.Table, error) {
	if h.check != nil && !h.check.passed {
		h.checkPassed()
	}
	k := tableKey{schema, name}
	if e, ok := h.tables[k]; ok {
		return &e.t, nil
	}
	if h.missing[k] || !h.captures(schema) {
		return nil, nil
	}
	if err := h.liveRead(ctx, []tableKey{k}, "table not in the schema history"); err != nil {
		return nil, err
	}
	e, ok := h.tables[k]
	if !ok {
		h.missing[k] = true
		return nil, nil
	}
	h.log.Info("table was not in the schema history; read it from information_schema", "cluster", h.cluster, "table", k.String())
	return &e.t, nil
}

// applyDDLAt is applyDDL for a statement after which the master's position
// is at().
func (h *schemaHistory) applyDDLAt(ctx context.Context, schema, query string, at func() repl.GTIDSet) error {
	h.at = at
	return h.applyDDL(ctx, schema, query)
}

// applyDDL brings the history past one query event. Statements that do not
// change a captured table's columns or unique keys are ignored.
func (h *schemaHistory) applyDDL(ctx context.Context, schema, query string) error {
	if h.check == nil {
		return h.applyQuery(ctx, schema, query)
	}
	c := h.checkQuery()
	err := h.applyQuery(ctx, schema, query)
	h.warnUnproven(c)
	return err
}

func (h *schemaHistory) applyQuery(ctx context.Context, schema, query string) error {
	h.missing = map[tableKey]bool{}
	h.changed = true
	stmts, _, err := h.parser.Parse(query, "", "")
	if err != nil {
		if st, k, ok := h.orReplace(query, schema); ok {
			delete(h.tables, k)
			return h.applyStmt(ctx, schema, st)
		}
		return h.unparsed(ctx, schema, query, err)
	}
	for _, st := range stmts {
		if err := h.applyStmt(ctx, schema, st); err != nil {
			return err
		}
	}
	return nil
}

// unparsed handles a statement the parser rejects: the tables it names
// are read from information_schema; when they cannot be told, every
// captured table is re-read.
func (h *schemaHistory) unparsed(ctx context.Context, schema, query string, perr error) error {
	keys, tableDDL, ok := ddlTargets(query, schema)
	if !tableDDL {
		if isDatabaseDDL(query) {
			h.dbDflt = map[string][2]string{}
		}
		return nil
	}
	h.log.Info("DDL not understood by the parser; reading information_schema", "cluster", h.cluster,
		"tables", fmt.Sprint(keys), "reason", perr.Error())
	if !ok {
		return h.reseed(ctx)
	}
	var captured []tableKey
	for _, k := range keys {
		if h.captures(k.schema) {
			captured = append(captured, k)
		}
	}
	return h.liveRead(ctx, captured, "DDL not understood by the parser")
}

// errFallback marks a DDL the history does not apply itself.
var errFallback = errors.New("not applied by the parser path")

func (h *schemaHistory) applyStmt(ctx context.Context, schema string, st ast.StmtNode) error {
	var err error
	var keys []tableKey
	switch s := st.(type) {
	case *ast.CreateTableStmt:
		keys, err = h.createTable(ctx, schema, s)
	case *ast.AlterTableStmt:
		keys, err = h.alterTable(ctx, schema, s)
	case *ast.DropTableStmt:
		if !s.IsView && s.TemporaryKeyword == ast.TemporaryNone {
			for _, t := range s.Tables {
				delete(h.tables, keyOf(t, schema))
			}
		}
	case *ast.RenameTableStmt:
		keys, err = h.renameTables(ctx, schema, s)
	case *ast.CreateIndexStmt:
		keys, err = h.createIndex(ctx, schema, s)
	case *ast.DropIndexStmt:
		keys, err = h.dropIndex(ctx, schema, s)
	case *ast.DropDatabaseStmt:
		h.dropDatabase(s.Name.O)
	case *ast.CreateDatabaseStmt:
		delete(h.dbDflt, s.Name.O)
	case *ast.AlterDatabaseStmt:
		h.dbDflt = map[string][2]string{}
	}
	if err == nil {
		return nil
	}
	h.log.Info("DDL not applied from its text; reading information_schema", "cluster", h.cluster,
		"tables", fmt.Sprint(keys), "reason", err.Error())
	return h.liveRead(ctx, keys, "DDL not applied from its text")
}

func (h *schemaHistory) dropDatabase(name string) {
	for k := range h.tables {
		if k.schema == name {
			delete(h.tables, k)
		}
	}
	delete(h.dbDflt, name)
}

func keyOf(t *ast.TableName, schema string) tableKey {
	if t.Schema.O != "" {
		schema = t.Schema.O
	}
	return tableKey{schema, t.Name.O}
}

// put stores a table built from DDL text under its key.
func (h *schemaHistory) put(k tableKey, d *tableDraft) error {
	e, err := d.entry(k)
	if err != nil {
		return err
	}
	h.tables[k] = e
	return nil
}

func (h *schemaHistory) createTable(ctx context.Context, schema string, s *ast.CreateTableStmt) ([]tableKey, error) {
	k := keyOf(s.Table, schema)
	keys := []tableKey{k}
	if s.TemporaryKeyword != ast.TemporaryNone || !h.captures(k.schema) {
		return nil, nil
	}
	if _, exists := h.tables[k]; exists && s.IfNotExists {
		return nil, nil
	}
	switch {
	case s.Select != nil:
		return keys, fmt.Errorf("%w: CREATE TABLE ... SELECT", errFallback)
	case s.ReferTable != nil:
		src, ok := h.tables[keyOf(s.ReferTable, schema)]
		if !ok {
			return keys, fmt.Errorf("%w: CREATE TABLE LIKE an unknown table", errFallback)
		}
		return keys, h.put(k, draftOf(src))
	}
	e, err := h.fromCreate(ctx, k, s)
	if err != nil {
		return keys, err
	}
	h.tables[k] = e
	return nil, nil
}

func (h *schemaHistory) renameTables(ctx context.Context, schema string, s *ast.RenameTableStmt) ([]tableKey, error) {
	for i, tt := range s.TableToTables {
		from, to := keyOf(tt.OldTable, schema), keyOf(tt.NewTable, schema)
		e, ok := h.tables[from]
		delete(h.tables, from)
		if !h.captures(to.schema) {
			continue
		}
		if !ok {
			var rest []tableKey
			for _, r := range s.TableToTables[i:] {
				rest = append(rest, keyOf(r.NewTable, schema))
			}
			return rest, fmt.Errorf("%w: RENAME of a table not in the history", errFallback)
		}
		d := draftOf(e)
		d.schema, d.name = to.schema, to.name
		if err := h.put(to, d); err != nil {
			return []tableKey{to}, err
		}
	}
	return nil, nil
}

func (h *schemaHistory) dropIndex(ctx context.Context, schema string, s *ast.DropIndexStmt) ([]tableKey, error) {
	k := keyOf(s.Table, schema)
	e, ok := h.tables[k]
	if !ok {
		return nil, nil
	}
	d := draftOf(e)
	d.dropIndex(s.IndexName)
	return []tableKey{k}, h.put(k, d)
}

// isDatabaseDDL reports whether a query creates, alters or drops a schema.
func isDatabaseDDL(q string) bool {
	w := strings.Fields(strings.ToUpper(stripLeadingComments(q)))
	if len(w) < 2 {
		return false
	}
	verb := w[0] == "CREATE" || w[0] == "ALTER" || w[0] == "DROP"
	for _, x := range w[1:min(5, len(w))] {
		if x == "DATABASE" || x == "SCHEMA" {
			return verb
		}
	}
	return false
}
