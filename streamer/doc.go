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
// batch limit is reached. Nothing (status, metrics, the resume point) moves
// past what Append made durable.
//
// Position: the resume point is the After set of the store's last record.
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
// The history is read from the live server at each session start (SHOW
// CREATE TABLE parsed with the TiDB parser) and kept current by parsing
// each DDL query in binlog order; DDL the parser rejects (much MariaDB-only
// syntax) or cannot apply for sure is resolved from information_schema at
// once.
//
// Failures: lost connections, refused logins and store errors are retried
// with exponential backoff from the durable position. Preflight refusals
// (*PreflightError), a binlog purged past the captured position
// (ErrBinlogPurged, naming the missing range) and undecodable events stop
// Run with an error.
//
// Decoding (DecodeTxn, TableFromMap): a captured record is turned into a
// repl.Txn with typed values, with no server access.
//
// What it does not do: it does not follow a master change (the master
// address is read at each connect so it can be made changeable later),
// decide what is missing on a server, or apply anything.
//
// Main types: Config, Streamer (New, Run, Status), Status, Preflight,
// PreflightError, DecodeTxn, TableFromMap.
package streamer
