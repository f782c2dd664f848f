package capture

import (
	"context"
	"errors"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// Kind tells what a Record holds. Its numbering is part of the record
// format: append only.
type Kind uint8

const (
	// KindTxn is one committed transaction.
	KindTxn Kind = iota + 1
	// KindMasterSwitch records that capture moved from one master to
	// another: From, To, the captured set at the switch (After) and, when
	// it differs, the position on To's history it resumed at (MasterPos).
	// A switch also starts a new history for Dedupe.
	KindMasterSwitch
	// KindMasterState records what the streamer knows of a master: the last
	// GTID it saw from it (GTID) and whether it was connected (Connected).
	// Written on connect, on disconnect and when a master is declared failed.
	KindMasterState
	// KindSchema is a snapshot of the streamer's schema history at After:
	// Tables holds every captured table (TableID 0). The streamer writes
	// one at first start, right after each transaction with DDL (in the
	// same Append batch) and at least every few thousand records, and
	// rebuilds its history from the latest one at each session start.
	// It always follows the record whose After and MasterPos it repeats,
	// so readers that do not use it skip it.
	KindSchema
)

func (k Kind) String() string {
	switch k {
	case KindTxn:
		return "txn"
	case KindMasterSwitch:
		return "master-switch"
	case KindMasterState:
		return "master-state"
	case KindSchema:
		return "schema"
	}
	return "unknown"
}

// TableSchema binds a binlog table id, as the transaction's table map
// events use it, to the table's schema at that point of the binlog.
type TableSchema struct {
	TableID uint64
	Table   repl.Table
	// Charset and Collation are the table's defaults, which columns added
	// later inherit; set in KindSchema records.
	Charset, Collation string
	// Uncertain is set when the schema could not be read for this point of
	// the binlog: it was read from the live server after later changes
	// may already have run. It may then be ahead of the rows it describes.
	Uncertain bool
}

// Record is one entry of a cluster's capture log.
type Record struct {
	Kind    Kind
	Cluster string // the Orchestrator cluster alias
	// Master is host:port of the server the record was captured from (for
	// KindMasterSwitch: the new master, To).
	Master string
	// After is the captured GTID set once this record is applied: every
	// transaction in the log up to and including this one. It makes the
	// tail self-sufficient for resume, and lets readers seek by GTID with a
	// binary search because it only grows.
	After repl.GTIDSet
	// MasterPos is set only when it differs from After: the GTID position
	// of the master's own history once this record is applied, which is
	// where capture resumes (see ResumeAt). They differ after a MariaDB
	// failover that lost transactions: the new master gives its own
	// transactions the sequence numbers of the lost ones, so After, a
	// union over both histories, holds sequence numbers the new master
	// has under other GTIDs, or not at all.
	MasterPos repl.GTIDSet
	// Offset is the record's position in its store, set by readers.
	Offset int64

	// KindTxn.
	GTID       repl.GTID
	ServerID   uint32
	CommitTime time.Time
	Start, End repl.BinlogPos
	// FormatDesc is the raw format description event of the binlog file
	// the transaction was read from; Events are the transaction's raw
	// events in order (GTID event, BEGIN, table maps, rows events, XID or
	// COMMIT). Each raw event includes its 19-byte header and, where the
	// server adds one, its checksum.
	FormatDesc []byte
	Events     [][]byte
	Tables     []TableSchema

	// KindMasterSwitch.
	From, To string

	// KindMasterState.
	Connected bool
	Failed    bool
}

// ResumeAt is the position capture resumes from after this record:
// MasterPos when set, else After.
func (r Record) ResumeAt() repl.GTIDSet {
	if !r.MasterPos.IsEmpty() {
		return r.MasterPos
	}
	return r.After
}

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("capture store closed")

// Store is one cluster's capture log.
type Store interface {
	// Append writes recs durably, in order, atomically per record: when it
	// returns nil every record is durable (fsynced, or acknowledged by all
	// in-sync Kafka replicas). On error, any prefix of recs may be durable;
	// the caller re-reads Last and resumes from there.
	Append(ctx context.Context, recs ...Record) error
	// Last returns the last complete record, and false when the log is empty.
	Last(ctx context.Context) (Record, bool, error)
	// Bounds returns the offset of the first record still retained and the
	// offset the next appended record will get.
	Bounds(ctx context.Context) (first, next int64, err error)
	// ReadFrom returns a reader positioned at the first record whose offset
	// is >= from.
	ReadFrom(ctx context.Context, from int64) (Reader, error)
	Close() error
}

// Reader iterates over records in log order. Next returns io.EOF at the
// current end of the log.
type Reader interface {
	Next(ctx context.Context) (Record, error)
	Close() error
}
