package streamer

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// env returns the column environment of a table with the given defaults.
func (h *schemaHistory) env(ctx context.Context, charset, collation string) (colEnv, error) {
	f, err := h.serverFacts(ctx)
	if err != nil {
		return colEnv{}, err
	}
	return colEnv{charset: charset, collation: collation, flavor: h.flavor, facts: f}, nil
}

// fromCreate translates a CREATE TABLE statement. A table without a
// character set of its own inherits its schema's.
func (h *schemaHistory) fromCreate(ctx context.Context, k tableKey, s *ast.CreateTableStmt) (*tableEntry, error) {
	cs, coll, err := tableCharset(s.Options)
	if err != nil {
		return nil, err
	}
	if cs == "" && coll == "" {
		if cs, coll, err = h.schemaDefault(ctx, k.schema); err != nil {
			return nil, err
		}
	}
	env, err := h.env(ctx, "", "")
	if err != nil {
		return nil, err
	}
	if env.charset, env.collation, err = env.facts.resolve(cs, coll); err != nil {
		return nil, err
	}
	d := &tableDraft{schema: k.schema, name: k.name, charset: env.charset, collation: env.collation}
	for _, def := range s.Cols {
		c, ko, err := env.column(def)
		if err != nil {
			return nil, err
		}
		d.cols = append(d.cols, c)
		if err := d.applyKeyOpts(c.Name, ko); err != nil {
			return nil, err
		}
	}
	for _, con := range s.Constraints {
		if err := d.constraint(con); err != nil {
			return nil, err
		}
	}
	return d.entry(k)
}

// tableCharset reads DEFAULT CHARSET and COLLATE table options. CONVERT
// TO and CHARACTER SET DEFAULT rewrite columns by rules of the server:
// errFallback.
func tableCharset(opts []*ast.TableOption) (cs, coll string, err error) {
	for _, o := range opts {
		switch o.Tp {
		case ast.TableOptionCharset:
			if o.UintValue == ast.TableOptionCharsetWithConvertTo || o.Default {
				return "", "", fmt.Errorf("%w: CONVERT TO CHARACTER SET or CHARACTER SET DEFAULT", errFallback)
			}
			cs = strings.ToLower(o.StrValue)
		case ast.TableOptionCollate:
			if o.Default {
				return "", "", fmt.Errorf("%w: COLLATE DEFAULT", errFallback)
			}
			coll = strings.ToLower(o.StrValue)
		}
	}
	return cs, coll, nil
}

func (h *schemaHistory) alterTable(ctx context.Context, schema string, s *ast.AlterTableStmt) ([]tableKey, error) {
	k := keyOf(s.Table, schema)
	to := k
	for _, sp := range s.Specs {
		if sp.Tp == ast.AlterTableRenameTable {
			to = keyOf(sp.NewTable, schema)
		}
	}
	keys := []tableKey{k}
	if to != k {
		keys = append(keys, to)
	}
	if !h.captures(k.schema) && !h.captures(to.schema) {
		return nil, nil
	}
	e, ok := h.tables[k]
	if !ok {
		return keys, fmt.Errorf("%w: ALTER TABLE of a table not in the history", errFallback)
	}
	d := draftOf(e)
	env, err := h.alterEnv(ctx, d, s.Specs)
	if err != nil {
		return keys, err
	}
	for _, sp := range s.Specs {
		if err := d.alter(sp, env); err != nil {
			return keys, err
		}
	}
	delete(h.tables, k)
	if !h.captures(to.schema) {
		return nil, nil
	}
	return keys, h.put(to, d)
}

// alterEnv applies the table options of an ALTER first: a new default
// character set applies to every column the statement adds.
func (h *schemaHistory) alterEnv(ctx context.Context, d *tableDraft, specs []*ast.AlterTableSpec) (colEnv, error) {
	cs, coll := d.charset, d.collation
	for _, sp := range specs {
		if sp.Tp != ast.AlterTableOption {
			continue
		}
		ncs, ncoll, err := tableCharset(sp.Options)
		if err != nil {
			return colEnv{}, err
		}
		if ncs != "" || ncoll != "" {
			cs, coll = ncs, ncoll
		}
	}
	env, err := h.env(ctx, "", "")
	if err != nil {
		return env, err
	}
	if env.charset, env.collation, err = env.facts.resolve(cs, coll); err != nil {
		return env, err
	}
	d.charset, d.collation = env.charset, env.collation
	return env, nil
}

// alter applies one ALTER TABLE clause to d.
func (d *tableDraft) alter(sp *ast.AlterTableSpec, env colEnv) error {
	switch sp.Tp {
	case ast.AlterTableAddColumns:
		return d.addColumns(sp, env)
	case ast.AlterTableAddConstraint:
		return d.constraint(sp.Constraint)
	case ast.AlterTableDropColumn:
		name := sp.OldColumnName.Name.O
		i := d.col(name)
		if i < 0 {
			return missingColumn(sp.IfExists, name)
		}
		if err := d.dropColumnKeys(name); err != nil {
			return err
		}
		d.remove(i)
	case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
		return d.changeColumn(sp, env)
	case ast.AlterTableRenameColumn:
		old, new := sp.OldColumnName.Name.O, sp.NewColumnName.Name.O
		i := d.col(old)
		if i < 0 {
			return missingColumn(false, old)
		}
		d.cols[i].Name = new
		d.renameInKeys(old, new)
	case ast.AlterTableDropPrimaryKey:
		d.pk = nil
	case ast.AlterTableDropIndex:
		d.dropIndex(sp.Name)
	case ast.AlterTableRenameIndex:
		if i := d.uniqueIndex(sp.FromKey.O); i >= 0 {
			d.uks[i].name = sp.ToKey.O
		}
	default:
		if !noSchemaChange[sp.Tp] {
			return fmt.Errorf("%w: ALTER TABLE clause type %d", errFallback, sp.Tp)
		}
	}
	return nil
}

// noSchemaChange lists ALTER TABLE clauses that change no column and no
// primary or unique key.
var noSchemaChange = map[ast.AlterTableType]bool{
	ast.AlterTableOption: true, ast.AlterTableRenameTable: true, ast.AlterTableAlterColumn: true,
	ast.AlterTableLock: true, ast.AlterTableAlgorithm: true, ast.AlterTableForce: true,
	ast.AlterTableDropForeignKey: true, ast.AlterTableEnableKeys: true, ast.AlterTableDisableKeys: true,
	ast.AlterTableAlterCheck: true, ast.AlterTableDropCheck: true, ast.AlterTableIndexInvisible: true,
	ast.AlterTableOrderByColumns: true, ast.AlterTableWithValidation: true, ast.AlterTableWithoutValidation: true,
	ast.AlterTableAddPartitions: true, ast.AlterTableCoalescePartitions: true, ast.AlterTableDropPartition: true,
	ast.AlterTableTruncatePartition: true, ast.AlterTablePartition: true, ast.AlterTableRemovePartitioning: true,
	ast.AlterTableRebuildPartition: true, ast.AlterTableReorganizePartition: true, ast.AlterTableCheckPartitions: true,
	ast.AlterTableOptimizePartition: true, ast.AlterTableRepairPartition: true, ast.AlterTableExchangePartition: true,
}

func missingColumn(ifExists bool, name string) error {
	if ifExists {
		return nil
	}
	return fmt.Errorf("%w: column %s is not in the history", errFallback, name)
}

func (d *tableDraft) addColumns(sp *ast.AlterTableSpec, env colEnv) error {
	for _, def := range sp.NewColumns {
		if d.col(def.Name.Name.O) >= 0 {
			if sp.IfNotExists {
				continue
			}
			return fmt.Errorf("%w: column %s already exists", errFallback, def.Name.Name.O)
		}
		c, ko, err := env.column(def)
		if err != nil {
			return err
		}
		if err := d.insert(c, sp.Position, len(d.cols)); err != nil {
			return err
		}
		if err := d.applyKeyOpts(c.Name, ko); err != nil {
			return err
		}
	}
	for _, con := range sp.NewConstraints {
		if err := d.constraint(con); err != nil {
			return err
		}
	}
	return nil
}

// changeColumn handles MODIFY (same name) and CHANGE (old name, new
// definition); the column stays in place unless a position is given.
func (d *tableDraft) changeColumn(sp *ast.AlterTableSpec, env colEnv) error {
	if len(sp.NewColumns) != 1 {
		return fmt.Errorf("%w: MODIFY/CHANGE of %d columns", errFallback, len(sp.NewColumns))
	}
	def := sp.NewColumns[0]
	old := def.Name.Name.O
	if sp.Tp == ast.AlterTableChangeColumn {
		old = sp.OldColumnName.Name.O
	}
	i := d.col(old)
	if i < 0 {
		return missingColumn(sp.IfExists, old)
	}
	c, ko, err := env.column(def)
	if err != nil {
		return err
	}
	d.remove(i)
	if err := d.insert(c, sp.Position, i); err != nil {
		return err
	}
	d.renameInKeys(old, c.Name)
	return d.applyKeyOpts(c.Name, ko)
}

func (h *schemaHistory) createIndex(ctx context.Context, schema string, s *ast.CreateIndexStmt) ([]tableKey, error) {
	k := keyOf(s.Table, schema)
	if s.KeyType != ast.IndexKeyTypeUnique || !h.captures(k.schema) {
		return nil, nil
	}
	e, ok := h.tables[k]
	if !ok {
		return []tableKey{k}, fmt.Errorf("%w: CREATE UNIQUE INDEX on a table not in the history", errFallback)
	}
	d := draftOf(e)
	cols, ok := keyCols(s.IndexPartSpecifications)
	if !ok || (s.IfNotExists && d.uniqueIndex(s.IndexName) >= 0) {
		return nil, nil
	}
	d.addUnique(s.IndexName, cols)
	return []tableKey{k}, h.put(k, d)
}

var (
	identRe    = "(?:`(?:[^`]|``)+`|[0-9A-Za-z_$\\x{80}-\\x{10FFFF}]+)"
	nameRe     = identRe + `(?:\s*\.\s*` + identRe + `)?`
	createRe   = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(` + nameRe + `)`)
	alterRe    = regexp.MustCompile(`(?is)^\s*ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?(` + nameRe + `)`)
	dropRe     = regexp.MustCompile(`(?is)^\s*DROP\s+(?:TEMPORARY\s+)?TABLES?\s+(?:IF\s+EXISTS\s+)?(` + nameRe + `(?:\s*,\s*` + nameRe + `)*)`)
	identPart  = regexp.MustCompile(identRe)
	tableWords = regexp.MustCompile(`(?i)\b(TABLES?|INDEX)\b`)
	renameWord = regexp.MustCompile(`(?i)\bRENAME\b`)
)

// ddlTargets finds, without a parser, the tables a DDL statement changes.
// tableDDL is false for statements that change no table (CREATE VIEW,
// GRANT...); ok is false when the tables cannot be told for sure.
func ddlTargets(query, schema string) (keys []tableKey, tableDDL, ok bool) {
	query = stripLeadingComments(query)
	f := strings.Fields(strings.ToUpper(query))
	if len(f) < 2 {
		return nil, false, true
	}
	switch f[0] {
	case "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE":
	default:
		return nil, false, true
	}
	if !tableWords.MatchString(strings.Join(f[:min(len(f), 8)], " ")) {
		return nil, false, true
	}
	for _, re := range []*regexp.Regexp{createRe, alterRe, dropRe} {
		m := re.FindStringSubmatch(query)
		if m == nil {
			continue
		}
		if re == alterRe && renameWord.MatchString(query) {
			return nil, true, false
		}
		names := splitNames(m[1])
		for _, n := range names {
			keys = append(keys, parseName(n, schema))
		}
		return keys, true, len(keys) > 0
	}
	return nil, true, false
}

// splitNames splits "a, `b`.`c`" at commas outside backquotes.
func splitNames(s string) []string {
	var out []string
	in, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '`':
			in = !in
		case s[i] == ',' && !in:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// parseName reads `schema`.`table` or table.
func parseName(s, schema string) tableKey {
	parts := identPart.FindAllString(s, 2)
	unq := func(p string) string {
		if strings.HasPrefix(p, "`") {
			return strings.ReplaceAll(p[1:len(p)-1], "``", "`")
		}
		return p
	}
	if len(parts) == 2 {
		return tableKey{unq(parts[0]), unq(parts[1])}
	}
	return tableKey{schema, unq(parts[0])}
}
