// Package applier is the SQL side of compensation: given a cluster's capture
// log and the new master after a failover, it brings the new master up to
// every transaction the old master committed that it lacks, in commit
// order, without overwriting rows that changed on the new master since.
//
//	res, err := applier.Plan(ctx, db, store, opts)       // dry run: changes nothing
//	res, err := applier.Compensate(ctx, db, store, opts) // replays
//
// db is the new master (go-sql-driver/mysql; any DSN options: every read is
// an explicit prepared statement, so results are binary-protocol), store
// the cluster's capture.Store. The Result marshals to JSON for the DBA
// report: the missing set, the capture status, and per transaction its
// GTID (and new GTID if it had to change), verdict, reason, rows with
// before/after/current images, and timings.
//
// # Missing set
//
// The missing set is every KindTxn record of the log whose GTID the new
// master has not executed, in log (commit) order. Records carry After, the
// captured set up to them, which only grows: a binary search over offsets
// (Store.Bounds, Store.ReadFrom) finds the first record whose After is not
// within the new master's executed prefix, in O(log n) reads, and the run
// reads forward from there only. It fails if retention already deleted
// transactions the new master lacks.
//
// MySQL: executed is @@gtid_executed, an exact set.
//
// MariaDB: positions hold one sequence number per domain and ignore server
// ids, so a new master that took writes of its own after promotion
// (0-3-101) would look as if it had executed the lost 0-1-101. The
// applier therefore splits the new master's history at the divergence
// point, its @@gtid_slave_pos (per domain, the last transaction it
// received by replication before it was promoted; RESET SLAVE keeps it):
// every sequence number up to it is executed; past it, only GTIDs that
// its binary log really holds, with the same server id, count. Those are
// read with SHOW BINARY LOGS and SHOW BINLOG EVENTS, walking the files back
// from the newest until one starts (Gtid_list) at or before the divergence
// point; this happens only for domains where gtid_binlog_pos is past
// gtid_slave_pos. A domain the new master never replicated is taken at
// gtid_binlog_pos. Result.Collisions lists every lost transaction whose
// domain and sequence number the new master used for another GTID, and
// Result.WrittenAfter counts what it wrote past the divergence point. A
// transaction recoup had to replay under a new GTID is found missing again
// by a later run (its original GTID is nowhere); its rows then decide it
// already applied.
//
// Capture status (Result.Capture) comes from the log's tail
// (capture.CaptureStatus, for the master that failed last): "complete" (up
// to the crash) only when the streamer was reading that master when it
// failed; any other ending is "unknown-after" the last captured GTID.
//
// # Conflict checks
//
// Missing transactions are decoded (streamer.DecodeTxn), and their BINLOG
// statements built, by a producer goroutine that reads the capture log up
// to two batches (Options.BatchTxns) ahead of the one being applied, and
// lists each batch's key images (conflict.KeyLister, the same list as
// conflict.State.NeededKeys) and writes its SELECTs; the batches are then
// fetched, decided and applied in order. Per table one
//
//	SELECT cols FROM db.t WHERE (k1, k2) IN ((?, ?), ...) OR u IN (?, ...) FOR UPDATE
//
// (null-safe whole-row matches for tables without a key; split above
// 20000 placeholders; a single-column integer key's runs of at least four
// consecutive values are matched with one BETWEEN ? AND ?, which returns
// exactly the same rows: bulk inserts make 10,000-value IN lists otherwise),
// with every value a bound parameter (Value.SQLArg):
// character strings as CONVERT(? USING charset) COLLATE column_collation,
// decimals as CAST(? AS DECIMAL(M,D)), so comparisons are the column's own
// and use its index. The session has a binary character set, time_zone
// '+00:00' and sql_mode NO_AUTO_VALUE_ON_ZERO. Results come in the binary
// protocol and are converted to repl.Values exactly as DecodeTxn builds
// them (see valueOf): FLOAT/DOUBLE by their IEEE bits (the text protocol
// prints FLOAT with 6 digits), DECIMAL and temporal text with the column's
// scale and fractional digits, TIMESTAMP in UTC, strings as stored bytes.
// TestFetchExact checks every type family against the binlog. Then
// conflict.State gives the verdicts; the policy (report, source-wins,
// abort) is the conflict package's. The planner runs in a goroutine and
// each transaction is applied as soon as it is decided (DecideEach), so
// the server replays the batch's first transactions while the planner
// checks the next ones; under policy abort, and in a dry run, the whole
// batch is decided first. After a batch ran, the planner forgets its
// simulated effects (conflict.State.Executed): the next batch's rows are
// read from the new master, which holds them. The producer and the
// planner together compute on at most GOMAXPROCS-1 Ps (cpuShare), so the
// goroutine that talks to the new master answers each reply at once.
//
// # Replay
//
// Each transaction decided Apply is replayed from its original row
// events, byte for byte, as a replica would: the record's format
// description event once per session (BINLOG 'base64'), then, in one DB
// transaction, one BINLOG statement per origin statement (table maps and
// rows events up to STMT_END_F). A statement whose BINLOG text would
// exceed the new master's max_allowed_packet is split at rows-event
// boundaries into several BINLOG statements, each with the statement's
// table maps again and only the last with STMT_END_F (the server keeps
// the statement open in between; TestCompensateTypeMatrixAndLargeTxn
// replays a 100,000-row transaction under a 1 MiB packet). A transaction
// that is one BINLOG statement and not the batch's first runs without
// BEGIN and COMMIT, in autocommit mode, as SET STATEMENT gtid_seq_no = n
// FOR BINLOG '...' (MariaDB): one round trip instead of four. GTID, BEGIN, XID and annotation events
// are replaced by the applier's own statements; a transaction with DDL or
// statement-format events is not replayable (the planner makes it a
// conflict). Rows events applied this way do not fire triggers (the
// trigger's own writes are in the captured transaction; TestCompensate
// checks one audit row per original), and they set foreign_key_checks and
// unique_checks from their own flags as the origin session had them, so an
// ON DELETE CASCADE runs on the new master exactly as it did on the old.
//
// Every transaction keeps its original GTID: MariaDB SET SESSION
// gtid_domain_id, server_id, then gtid_seq_no before BEGIN; MySQL SET
// GTID_NEXT='uuid:n' (and 'AUTOMATIC' after; not tested against a MySQL
// server). When MariaDB's gtid_strict_mode refuses the original sequence
// number (error 1950: the domain already holds a higher one), the
// transaction is replayed under a new GTID in the same domain with the new
// master's server id, read back from @@last_gtid into TxnResult.NewGTID. A
// transaction with no row events replays as an empty transaction, which
// MariaDB does not binlog: its GTID stays unrecorded.
//
// Source-wins overwrites (verdict apply-overwrite) cannot use the original
// events, whose before-images do not match: see overwrite.go. Their rows
// are written with bound-parameter INSERT ... ON DUPLICATE KEY UPDATE and
// DELETE ... LIMIT 1 by key (not REPLACE, whose delete would cascade), in
// the transaction's own DB transaction with its GTID. Such statements
// would fire triggers, so a transaction touching a table with triggers
// (per the captured table map flag or information_schema) is not
// overwritten: the run stops with an error.
//
// Fencing and locking: Compensate refuses a new master whose read_only is
// OFF (Options.AllowWritable overrides). A batch's rows are read with FOR
// UPDATE inside the DB transaction of its first transaction (MariaDB
// refuses SET gtid_seq_no inside a transaction, so that GTID is set
// first); the rest of the batch relies on the fence. Policy abort decides
// every batch first, without locks, and applies nothing if any transaction
// conflicts.
//
// Deadline: every statement runs under ctx. An expired or cancelled ctx
// aborts the DB transaction in progress (database/sql rolls it back; a
// dropped connection is rolled back by the server), so no partial
// transaction is committed; the Result lists what committed before. The
// connection is discarded, never returned to the pool, since its session
// settings are the applier's.
//
// Idempotence: a replayed transaction's GTID is then executed on the new
// master, so a second run finds nothing missing but the transactions it
// skipped (conflicts are reported again) and applies nothing new.
//
// # Privileges (MariaDB 10.11, verified by the tests with this exact list)
//
//	CREATE USER 'recoup'@'<host>' IDENTIFIED BY '...';
//	GRANT READ_ONLY ADMIN, BINLOG REPLAY, BINLOG MONITOR ON *.* TO 'recoup'@'<host>';
//	GRANT SELECT ON `<schema>`.* TO 'recoup'@'<host>';                   -- every captured schema
//	GRANT INSERT, UPDATE, DELETE ON `<schema>`.* TO 'recoup'@'<host>';   -- only for policy source-wins
//
// READ_ONLY ADMIN: write (and SELECT ... FOR UPDATE) while read_only=ON.
// BINLOG REPLAY: the BINLOG statement and SET gtid_domain_id, server_id,
// gtid_seq_no. BINLOG MONITOR: SHOW BINARY LOGS, SHOW BINLOG EVENTS. The
// BINLOG statement checks no table privileges: BINLOG REPLAY lets a user
// write any table, so guard the account accordingly. Source-wins and
// review write typed statements, which would fire a table's triggers a
// second time, so they refuse tables with triggers, found in
// information_schema.TRIGGERS (and, for source-wins, the captured table
// maps' has-triggers flag). MariaDB 10.11 shows a table's triggers to an
// account holding any privilege on it but SELECT (deploy's TestGrants
// checks that the INSERT, UPDATE, DELETE above do, and SELECT alone does
// not); MySQL shows them only with the TRIGGER privilege.
//
// MySQL 8 (not tested here): SELECT on the schemas, SYSTEM_VARIABLES_ADMIN
// or REPLICATION_APPLIER for SET GTID_NEXT, BINLOG_ADMIN for the BINLOG
// statement, CONNECTION_ADMIN to write under read_only (super_read_only
// needs SUPER).
//
// What it does not do: replay DDL or statement-format transactions,
// repoint replicas or the proxy (the hook does), or decide conflicts (the
// conflict package does). A single binlog event larger than the new
// master's max_allowed_packet is an error (rows events are cut at
// binlog_row_event_max_size, 8 KiB by default, so only a huge BLOB row
// reaches it; mariadb-binlog's BINLOG @fragment form is not used). Unsupported column types (MariaDB INET6,
// UUID, INET4) stop the run when a conflict check needs them.
package applier
