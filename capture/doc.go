// Package capture is recoup's durable, append-only transaction log: one log
// per cluster, holding every committed transaction of that cluster's
// masters, in commit order, as self-describing Records.
//
// A Record of kind KindTxn keeps the transaction's original binlog events
// byte for byte (plus the format description event and the table schemas
// needed to parse them), so that a reader with no server access can both
// decode every value and re-apply the events exactly. Decoding those bytes
// into typed rows is the streamer package's job (it owns everything that
// touches go-mysql); this package only stores and retrieves Records.
//
// Two Store implementations pass one contract test: Local (a directory of
// fsynced segment files, the default) and Kafka (one single-partition topic
// per cluster).
//
// Failovers: a KindMasterSwitch record begins a new history for Dedupe;
// Record.MasterPos carries the new master's position while it differs
// from After (see Record); CaptureStatus reads a log's tail and states
// whether capture from a failed master is complete up to its crash or
// unknown after its last captured GTID.
//
// What it does not do: it never decides what is missing on a server (that
// is compensation's job) and never talks to MySQL or MariaDB.
package capture
