package streamer

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// orReplaceRe matches MariaDB's CREATE OR REPLACE TABLE, which the TiDB
// parser rejects; without OR REPLACE it is a CREATE TABLE after a DROP
// TABLE IF EXISTS of the same table.
var orReplaceRe = regexp.MustCompile(`(?is)^(\s*CREATE\s+)OR\s+REPLACE\s+((?:TEMPORARY\s+)?TABLE\s)`)

// orReplace parses a CREATE OR REPLACE TABLE statement as the CREATE TABLE
// it ends with, and names the table it replaces.
func (h *schemaHistory) orReplace(query, schema string) (*ast.CreateTableStmt, tableKey, bool) {
	query = stripLeadingComments(query)
	loc := orReplaceRe.FindStringSubmatchIndex(query)
	if loc == nil {
		return nil, tableKey{}, false
	}
	text := query[:loc[3]] + query[loc[4]:]
	st, err := h.parser.ParseOneStmt(text, "", "")
	if err != nil {
		return nil, tableKey{}, false
	}
	ct, ok := st.(*ast.CreateTableStmt)
	if !ok || ct.TemporaryKeyword != ast.TemporaryNone {
		return nil, tableKey{}, false
	}
	return ct, keyOf(ct.Table, schema), true
}

// liveRead reads tables from information_schema in the middle of the
// binlog. The result is the table as of now: when the master has written
// anything after the statement being applied, a later DDL may already be
// in it, so the tables are marked uncertain and a warning is logged.
func (h *schemaHistory) liveRead(ctx context.Context, keys []tableKey, why string) error {
	for _, k := range keys {
		if err := h.fallback(ctx, k); err != nil {
			return err
		}
	}
	return h.checkCertain(ctx, keys, why)
}

// reseed re-reads every captured table, for a DDL whose tables cannot be
// told.
func (h *schemaHistory) reseed(ctx context.Context) error {
	if err := h.seed(ctx); err != nil {
		return err
	}
	return h.checkCertain(ctx, h.keys(), "DDL whose tables cannot be told")
}

// checkCertain marks keys uncertain unless the master's position, read
// after the tables were, is within the position of the statement applied.
func (h *schemaHistory) checkCertain(ctx context.Context, keys []tableKey, why string) error {
	if h.at == nil || len(keys) == 0 {
		return nil
	}
	at := h.at()
	cur, err := masterPosition(ctx, h.db, h.flavor)
	if err != nil {
		return fmt.Errorf("checking that the schema read from information_schema is not ahead: %w", err)
	}
	if cur.Subset(at) {
		h.setUncertain(keys, false)
		return nil
	}
	h.setUncertain(keys, true)
	h.log.Warn(uncertainMsg, "cluster", h.cluster, "tables", fmt.Sprint(keys),
		"reason", why, "gtid", at.String(), "master_gtid", cur.String())
	return nil
}

// stripLeadingComments drops the whitespace and plain comments (/* */, --
// and #) before a statement's first word, so that a tool's tag such as
// "/* gh-ost */ ALTER TABLE ..." does not hide the statement's verb.
// Executable comments (/*! and /*M!) are kept: the server runs them.
func stripLeadingComments(q string) string {
	for {
		q = strings.TrimLeft(q, " \t\r\n")
		switch {
		case strings.HasPrefix(q, "/*") && !strings.HasPrefix(q, "/*!") && !strings.HasPrefix(q, "/*M!"):
			end := strings.Index(q[2:], "*/")
			if end < 0 {
				return q
			}
			q = q[2+end+2:]
		case strings.HasPrefix(q, "#"), strings.HasPrefix(q, "-- "), strings.HasPrefix(q, "--\t"), strings.HasPrefix(q, "--\n"):
			nl := strings.IndexByte(q, '\n')
			if nl < 0 {
				return ""
			}
			q = q[nl+1:]
		default:
			return q
		}
	}
}
