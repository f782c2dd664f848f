package streamer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/repl"
)

// PreflightError lists why a server cannot be captured, each problem with
// what to change.
type PreflightError struct {
	Problems []string
}

func (e *PreflightError) Error() string {
	return "the server cannot be captured: " + strings.Join(e.Problems, "; ")
}

// PreflightOption adjusts Preflight.
type PreflightOption func(*preflightOpts)

type preflightOpts struct {
	allowReplica bool
	schemas      []string
	serverID     uint32
	semiSync     bool
}

// AllowReplicaSource accepts a server that is itself a replica.
func AllowReplicaSource() PreflightOption { return func(o *preflightOpts) { o.allowReplica = true } }

// CaptureSchemas names the schemas whose tables must be readable; by
// default every non-system schema the user can see.
func CaptureSchemas(schemas ...string) PreflightOption {
	return func(o *preflightOpts) { o.schemas = schemas }
}

// SemiSyncReplica checks that the server can wait for a semi-synchronous
// replica: it is refused without semi-synchronous replication, and warned
// about when it does not wait (rpl_semi_sync_master_enabled=OFF).
func SemiSyncReplica() PreflightOption { return func(o *preflightOpts) { o.semiSync = true } }

// ReplicaServerID checks that the server's own server_id differs from the
// one the streamer registers with.
func ReplicaServerID(id uint32) PreflightOption { return func(o *preflightOpts) { o.serverID = id } }

// Preflight checks that a server can be captured: binary log on, in ROW
// format with FULL row images, GTIDs on (MySQL), the privileges capture
// needs, and that the server is not a replica. It returns a
// *PreflightError listing every problem, and warnings for what degrades
// capture without preventing it (binlog_row_metadata not FULL,
// gtid_strict_mode off). Other errors are failures to ask the server.
func Preflight(ctx context.Context, db *sql.DB, flavor repl.Flavor, opts ...PreflightOption) (warnings []string, err error) {
	var o preflightOpts
	for _, f := range opts {
		f(&o)
	}
	v, err := globalVars(ctx, db)
	if err != nil {
		return nil, err
	}
	c := &checks{flavor: flavor, vars: v, opts: o}
	c.server()
	c.binlog()
	c.semiSync()
	if err := c.privileges(ctx, db); err != nil {
		return nil, err
	}
	if err := c.replica(ctx, db); err != nil {
		return nil, err
	}
	if len(c.problems) > 0 {
		return c.warnings, &PreflightError{Problems: c.problems}
	}
	return c.warnings, nil
}

type checks struct {
	flavor             repl.Flavor
	vars               map[string]string
	opts               preflightOpts
	problems, warnings []string
}

func (c *checks) problem(format string, a ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, a...))
}
func (c *checks) warn(format string, a ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, a...))
}

func globalVars(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format',
		'binlog_row_image', 'binlog_row_metadata', 'gtid_mode', 'gtid_strict_mode', 'read_only', 'version',
		'server_id', 'log_slave_updates', 'log_replica_updates', 'rpl_semi_sync_master_enabled')`)
	if err != nil {
		return nil, fmt.Errorf("reading server variables: %w", err)
	}
	defer rows.Close()
	v := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("reading server variables: %w", err)
		}
		v[strings.ToLower(name)] = value
	}
	return v, rows.Err()
}

func (c *checks) server() {
	isMaria := strings.Contains(c.vars["version"], "MariaDB")
	switch {
	case c.flavor == repl.MariaDB && !isMaria:
		c.problem("the server (version %s) is not MariaDB: set the cluster's flavor to mysql", c.vars["version"])
	case c.flavor == repl.MySQL && isMaria:
		c.problem("the server (version %s) is MariaDB: set the cluster's flavor to mariadb", c.vars["version"])
	}
	if c.opts.serverID != 0 && c.vars["server_id"] == fmt.Sprint(c.opts.serverID) {
		c.problem("the server's own server_id is %d, the streamer's replica server_id: give the streamer a server_id no server of the cluster uses", c.opts.serverID)
	}
}

func (c *checks) semiSync() {
	if !c.opts.semiSync {
		return
	}
	switch on, ok := c.vars["rpl_semi_sync_master_enabled"]; {
	case !ok:
		c.problem("semi_sync is set but the server has no semi-synchronous replication (MySQL: INSTALL PLUGIN " +
			"rpl_semi_sync_master SONAME 'semisync_master.so'): install it, or unset the cluster's semi_sync")
	case !strings.EqualFold(on, "ON"):
		c.warn("rpl_semi_sync_master_enabled is OFF: the master does not wait for the streamer, so a commit it " +
			"acknowledges may not be captured yet; SET GLOBAL rpl_semi_sync_master_enabled=ON (and in the configuration): " +
			"the streamer registers as semi-synchronous when it next connects")
	}
}

func (c *checks) binlog() {
	v := c.vars
	if !strings.EqualFold(v["log_bin"], "ON") {
		c.problem("binary logging is off (log_bin=%s): add log_bin (e.g. log_bin=mysql-bin) to the [mysqld] section of the server's configuration and restart it", v["log_bin"])
	}
	if f := v["binlog_format"]; !strings.EqualFold(f, "ROW") {
		c.problem("binlog_format is %s: set binlog_format=ROW in the configuration and with SET GLOBAL binlog_format='ROW' (sessions keep their format until they reconnect)", f)
	}
	if img := v["binlog_row_image"]; !strings.EqualFold(img, "FULL") {
		c.problem("binlog_row_image is %s: set binlog_row_image=FULL in the configuration and with SET GLOBAL binlog_row_image='FULL' (row changes need full before and after images to be checked and replayed)", img)
	}
	if c.flavor == repl.MySQL && !strings.EqualFold(v["gtid_mode"], "ON") {
		c.problem("gtid_mode is %s: enable GTIDs (enforce_gtid_consistency=ON, then gtid_mode stepwise to ON)", v["gtid_mode"])
	}
	if c.flavor == repl.MariaDB && !strings.EqualFold(v["gtid_strict_mode"], "ON") {
		c.warn("gtid_strict_mode is OFF: set gtid_strict_mode=ON on every server of the cluster so GTID sequence numbers stay unique per domain")
	}
	switch meta, ok := v["binlog_row_metadata"]; {
	case !ok:
		c.warn("the server has no binlog_row_metadata (MariaDB < 10.5, MySQL < 8.0.1): column names and types come from the schema history alone")
	case !strings.EqualFold(meta, "FULL"):
		c.warn("binlog_row_metadata is %s: set binlog_row_metadata=FULL so each row event names its columns; until then schemas come from the schema history alone", meta)
	}
}

// privileges checks REPLICATION SLAVE and SELECT on the captured schemas
// from SHOW GRANTS, and the binlog monitoring privilege by using it.
func (c *checks) privileges(ctx context.Context, db *sql.DB) error {
	g, err := readGrants(ctx, db)
	if err != nil {
		return err
	}
	if !g.hasGlobal("REPLICATION SLAVE") {
		c.problem("the user lacks REPLICATION SLAVE: GRANT REPLICATION SLAVE ON *.* TO the streamer's user")
	}
	_, err = db.ExecContext(ctx, "SHOW BINARY LOGS")
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1381 {
		err = nil // binary logging is off: reported by binlog()
	}
	if isAccessDenied(err) {
		priv := "REPLICATION CLIENT"
		if c.flavor == repl.MariaDB {
			priv = "BINLOG MONITOR"
		}
		c.problem("the user cannot list binary logs: GRANT %s ON *.* TO the streamer's user", priv)
	} else if err != nil {
		return fmt.Errorf("checking SHOW BINARY LOGS: %w", err)
	}
	schemas := c.opts.schemas
	if len(schemas) == 0 {
		if schemas, err = visibleSchemas(ctx, db); err != nil {
			return err
		}
	}
	for _, s := range schemas {
		if !g.onSchema("SELECT", s) {
			c.problem("the user lacks SELECT on schema %s (needed for SHOW CREATE TABLE): GRANT SELECT ON %s.* TO the streamer's user", s, quoteIdent(s))
		}
	}
	return nil
}

func isAccessDenied(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1227 || me.Number == 1142 || me.Number == 1044 || me.Number == 1045)
}

func visibleSchemas(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
	if err != nil {
		return nil, fmt.Errorf("listing schemas: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("listing schemas: %w", err)
		}
		if !systemSchemas[strings.ToLower(s)] {
			out = append(out, s)
		}
	}
	return out, rows.Err()
}

// replica refuses a server that replicates from another, or is read_only,
// unless replica sources are allowed.
func (c *checks) replica(ctx context.Context, db *sql.DB) error {
	replicating, known, err := isReplicating(ctx, db, c.flavor)
	if err != nil {
		return err
	}
	if !known {
		c.warn("cannot tell whether the server replicates from another (SHOW SLAVE STATUS denied): grant SLAVE MONITOR (MariaDB) or REPLICATION CLIENT (MySQL); relying on read_only")
	}
	readOnly := strings.EqualFold(c.vars["read_only"], "ON")
	if !replicating && !readOnly {
		return nil
	}
	what := "is read_only"
	if replicating {
		what = "replicates from another server"
	}
	if !c.opts.allowReplica {
		c.problem("the server %s, so it is not the cluster's master: point the streamer at the master, or set allow_replica_source to capture from a replica", what)
		return nil
	}
	c.warn("capturing from a server that %s (allow_replica_source)", what)
	if replicating && !strings.EqualFold(c.vars["log_slave_updates"], "ON") && !strings.EqualFold(c.vars["log_replica_updates"], "ON") {
		c.problem("the replica source does not log replicated transactions: set log_slave_updates=ON")
	}
	return nil
}

func isReplicating(ctx context.Context, db *sql.DB, flavor repl.Flavor) (replicating, known bool, err error) {
	queries := []string{"SHOW REPLICA STATUS", "SHOW SLAVE STATUS"}
	if flavor == repl.MariaDB {
		queries = []string{"SHOW ALL SLAVES STATUS"}
	}
	for _, q := range queries {
		rows, err := db.QueryContext(ctx, q)
		if isAccessDenied(err) {
			return false, false, nil
		}
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1064 {
			continue // syntax not known to this version
		}
		if err != nil {
			return false, false, fmt.Errorf("%s: %w", q, err)
		}
		found := rows.Next()
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return false, false, fmt.Errorf("%s: %w", q, err)
		}
		return found, true, nil
	}
	return false, false, nil
}
