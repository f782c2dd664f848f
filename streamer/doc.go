// Package streamer is everything in recoup that touches go-mysql: it
// captures a cluster's binlog into a capture log, and decodes captured
// records back into typed transactions.
//
// Capture (Streamer): connect to the cluster's master as a replica with
// GTID auto-position (go-mysql's BinlogSyncer, with its own retry disabled),
// group the events into whole transactions in commit order, turn each into
// a self-describing capture.Record (raw events byte for byte, the format
// description event, the schema of every mapped table), and append them
// durably with group commit: records accumulate while events keep arriving
// and go to Store.Append in one batch as soon as no event is pending or a
// batch limit is reached. The append runs in its own goroutine with at most
// one batch in flight, while the next batch is built (so group commit grows
// during an fsync); batches stay in order. Nothing (status, metrics, the
// resume point) moves past what Append made durable.
//
// Position: the resume point is the store's last record's ResumeAt: its
// After set, or its MasterPos after a lossy failover (see below).
// On first start with an empty log, capture begins at the master's current
// position (gtid_binlog_pos / gtid_executed) and records it in a
// KindMasterState record; transactions committed before the first start are
// not captured. Every session writes a master-state record when the master
// accepts its position and another when the connection is lost.
//
// Transactions: MariaDB groups run from the GTID event to the XID event or
// a COMMIT/ROLLBACK query (non-transactional engines), or are one query
// when flagged FL_STANDALONE (DDL, XA COMMIT); an XA PREPARE group ends with
// its XA_PREPARE event and its XA COMMIT is a later record of its own.
// MySQL groups run from the GTID event to XID/COMMIT after BEGIN or XA START
// (or to the XA_PREPARE event), or are one DDL query. Heartbeats and
// artificial events are dropped; rotate and format description events only
// update the current file and format. An event that does not fit stops
// capture with its bytes quoted (ErrUndecodable): nothing is skipped.
//
// Schema history: each record carries the schema of the tables its table
// maps reference, built by TableFromMap from the table map (column names
// and types when binlog_row_metadata=FULL) and the schema history, which
// adds what the binlog lacks (unique keys, generated columns, type names).
// The history is kept current by parsing each DDL query in binlog order
// (CREATE OR REPLACE TABLE as a drop and a create). It is written to the
// log as a KindSchema snapshot after every transaction with DDL (same
// batch), at least every 10,000 records, and after the first transaction
// of a history not yet in the log. Each session starts from the log's
// latest snapshot plus the DDL of the transactions after it, never from
// the live server, which may be ahead of the backlog; only an empty log
// (or one without snapshots) is seeded from the live server (SHOW CREATE
// TABLE parsed with the TiDB parser). A seed read from a master already
// past the captured position stays uncertain until the stream passes the
// point it was read at with no DDL on the way (schema_seed.go). DDL the parser rejects or cannot
// apply for sure is read from information_schema; the result is trusted
// only when the master has written nothing after the DDL, otherwise the
// table is marked uncertain (TableSchema.Uncertain in the snapshot) with
// a warning.
//
// Failures: lost connections, refused logins and store errors are retried
// with exponential backoff from the durable position. Preflight refusals
// (*PreflightError), a binlog purged past the captured position
// (ErrBinlogPurged, naming the missing range), undecodable events and an
// Append failing with ENOSPC (the capture log's disk is full: the error names
// the durable position and the fix) stop Run with an error.
//
// Following the master: SwitchMaster changes the master while Run runs.
// It preflights the new master, sets the address under the streamer's
// lock and cancels the current session; the next session resumes from the
// log's last record exactly as after a reconnect. Its first batch records
// the old master failed (KindMasterState, Failed, Connected when the
// streamer was reading it until it failed: its session was live, or the
// log ends with that session's disconnection) and the switch
// (KindMasterSwitch: From, To, After = the captured set at the switch), and
// SwitchMaster returns once they are durable. Drain, for a master the
// caller says failed, holds off new sessions, waits for the running one
// to end and its records to be durable, and records the failure.
// OrchestratorPoller asks Orchestrator (GET /api/master/{alias}) and
// switches to a writable master, or a read-only one fenced at depth 0.
// A master reached by a switch may be read-only when it replicates from no
// server (a promoted master fenced by recoup's hook); a replica is refused
// unless AllowReplicaSource. At start, capture follows the master of the
// log's last record when it differs from the configured one.
//
// After a failover that lost transactions (MariaDB). The old master
// committed 0-1-97..100, which the streamer captured and no replica
// received; the promoted replica holds 0-1-96 and gives its own
// transactions 0-2-97, 0-2-98... (gtid_strict_mode): the same sequence
// numbers. MariaDB serves a dump only from a GTID it has exactly (domain,
// server id, sequence): asked for 0-1-100 it answers error 1236, "not in
// the master's binlog" (and "probably diverged" once it wrote past 100).
// So at each session start, for each domain, the position's last GTID e
// is kept when the master surely has it (its binlog ends with e, it wrote
// e, or it replicated that far: gtid_slave_pos); otherwise the dump starts
// at c, the master's gtid_slave_pos in that domain (the last transaction
// it received before its promotion, kept by RESET SLAVE ALL), checked to
// be the captured transaction of that sequence number. Everything the
// master sends after c is new, whatever sequence numbers it reuses. The
// log keeps both histories consistent with two positions per record:
// After stays the union over both (it only grows, so readers can still
// binary-search it, and the lost transactions stay recorded: captured
// from the old master, missing on the new one), and MasterPos, set only
// while it differs, is the position on the new master's history, where
// capture resumes (Record.ResumeAt). The switch record carries both; it
// begins a new history for capture.Dedupe, whose captured set restarts at
// the switch's ResumeAt, so the new master's 0-2-97 is not taken for a
// duplicate of the lost 0-1-97. A captured transaction of the old history
// that the new master sends with its original GTID (the hook replaying a
// lost transaction) is skipped: the session collects, from the log, the
// exact GTIDs of the captured transactions beyond its start (a binary
// search on After, then a read to the log's end), and drops a transaction
// whose exact GTID is among them, keeping it in the new history's
// position. Once the new master's history covers every sequence number of
// the union, MasterPos equals After and is no longer written. A history
// that departs from the captured one with no switch (another server
// behind the same address) is recorded as a switch from and to that
// address. MySQL needs none of this: GTIDs carry the source uuid, a new
// master's transactions never collide with lost ones, and auto-position
// sends what the captured set lacks.
//
// Semi-synchronous capture (Config.SemiSync): the streamer registers as a
// semi-synchronous replica, and the acknowledgement go-mysql writes after
// a flagged event is held on the connection (binlogconn.go, ackGate) until
// every event handed to the pump is in a durable record or ends no
// transaction: the master releases a client's commit only once the
// capture log holds it. A session that ends first acknowledges nothing;
// the master then waits out rpl_semi_sync_master_timeout and runs
// asynchronous until a streamer acknowledges again.
//
// Decoding (DecodeTxn, TableFromMap): a captured record is turned into a
// repl.Txn with typed values, with no server access.
//
// What it does not do: decide what is missing on a server, or apply
// anything. It cannot tell a master's crash from a network partition
// during which the master kept committing.
//
// Main types: Config, Streamer (New, Run, Status, SwitchMaster, Drain,
// Following), Status, OrchestratorPoller, Preflight, PreflightError,
// DecodeTxn, TableFromMap.
package streamer
