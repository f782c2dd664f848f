package streamer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// ErrUndecodable is wrapped by errors about binlog events the streamer
// cannot place in a transaction or cannot parse. Such an error stops the
// cluster's capture: an event is never skipped.
var ErrUndecodable = errors.New("undecodable binlog event")

// maxHexBytes bounds the raw bytes quoted in an error.
const maxHexBytes = 512

// txnBuilder groups binlog events into whole transactions, in commit order,
// and turns each into a capture.Record. It keeps its own GTID set (pos): the
// position once every record it has built is applied. It does no I/O but
// through resolve and applyDDL.
type txnBuilder struct {
	flavor   repl.Flavor
	cluster  string
	master   string
	captures func(schema string) bool
	// resolve describes the table a table map event maps, at this point of
	// the binlog (key: see mapKey, nil when there is none); applyDDL brings
	// the schema history past a DDL statement.
	resolve  func(ctx context.Context, tme *replication.TableMapEvent, key []byte) (repl.Table, error)
	applyDDL func(ctx context.Context, schema, query string) error
	log      *slog.Logger

	file string // current binlog file, from rotate events
	fde  []byte // raw format description event of that file
	crc  bool   // that file's events end with a CRC32 checksum
	pos  repl.GTIDSet
	cur  *pendingTxn
}

// pendingTxn is a transaction whose end event has not arrived yet.
type pendingTxn struct {
	rec        capture.Record
	standalone bool // MariaDB FL_STANDALONE: ends with its first query
	queries    int  // query events seen
	skip       map[uint64]bool
	rowsEvents int
	bytes      int
	duplicate  bool
}

// built is one finished transaction.
type built struct {
	rec        capture.Record
	rowsEvents int
	bytes      int
}

// pending reports whether a transaction has begun and not ended.
func (b *txnBuilder) pending() bool { return b.cur != nil }

// add takes the next event. It returns the finished transaction when ev
// ends one, nil otherwise.
func (b *txnBuilder) add(ctx context.Context, ev *replication.BinlogEvent) (*built, error) {
	switch ev.Header.EventType {
	case replication.ROTATE_EVENT:
		return nil, b.rotate(ev)
	case replication.FORMAT_DESCRIPTION_EVENT:
		if b.cur != nil {
			return nil, b.unexpected(ev, "format description event inside a transaction")
		}
		b.fde = ev.RawData
		fd, ok := ev.Event.(*replication.FormatDescriptionEvent)
		b.crc = ok && fd.ChecksumAlgorithm == replication.BINLOG_CHECKSUM_ALG_CRC32
		return nil, nil
	case replication.MARIADB_GTID_EVENT, replication.GTID_EVENT, replication.GTID_TAGGED_LOG_EVENT:
		return nil, b.begin(ev)
	case replication.ANONYMOUS_GTID_EVENT:
		return nil, b.unexpected(ev, "anonymous transaction (no GTID): enable gtid_mode=ON on the master")
	}
	if b.cur == nil {
		return nil, b.outside(ev)
	}
	return b.inside(ctx, ev)
}

func (b *txnBuilder) rotate(ev *replication.BinlogEvent) error {
	if b.cur != nil {
		return b.unexpected(ev, "rotate event inside a transaction")
	}
	r, ok := ev.Event.(*replication.RotateEvent)
	if !ok {
		return b.unexpected(ev, "rotate event not parsed as one")
	}
	b.file = string(r.NextLogName)
	return nil
}

// outside handles an event between transactions: only events that carry no
// transaction data may come there.
func (b *txnBuilder) outside(ev *replication.BinlogEvent) error {
	h := ev.Header
	if h.Flags&replication.LOG_EVENT_ARTIFICIAL_F != 0 {
		return nil
	}
	switch h.EventType {
	case replication.MARIADB_GTID_LIST_EVENT, replication.MARIADB_BINLOG_CHECKPOINT_EVENT,
		replication.PREVIOUS_GTIDS_EVENT, replication.MARIADB_START_ENCRYPTION_EVENT,
		replication.STOP_EVENT, replication.IGNORABLE_EVENT,
		replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2:
		return nil
	}
	return b.unexpected(ev, "event outside of a GTID transaction")
}

func (b *txnBuilder) begin(ev *replication.BinlogEvent) error {
	h := ev.Header
	if b.cur != nil {
		return b.unexpected(ev, fmt.Sprintf("transaction %s has no end event before the next GTID event", b.cur.rec.GTID))
	}
	if b.fde == nil {
		return b.unexpected(ev, "GTID event before any format description event")
	}
	g, standalone, err := b.gtidOf(ev)
	if err != nil {
		return err
	}
	var start uint32
	if h.LogPos >= h.EventSize {
		start = h.LogPos - h.EventSize
	}
	b.cur = &pendingTxn{
		rec: capture.Record{
			Kind: capture.KindTxn, Cluster: b.cluster, Master: b.master,
			GTID: g, ServerID: h.ServerID, Start: repl.BinlogPos{File: b.file, Pos: start},
			FormatDesc: b.fde, Events: [][]byte{ev.RawData},
		},
		standalone: standalone,
		bytes:      len(ev.RawData),
		duplicate:  b.pos.Contains(g),
	}
	return nil
}

// gtidOf copies the event's GTID by value: go-mysql's GTID structs may be
// shared with its own GTID sets.
func (b *txnBuilder) gtidOf(ev *replication.BinlogEvent) (repl.GTID, bool, error) {
	switch e := ev.Event.(type) {
	case *replication.MariadbGTIDEvent:
		if b.flavor != repl.MariaDB {
			return repl.GTID{}, false, b.unexpected(ev, "MariaDB GTID event from a server configured as mysql")
		}
		if e.GTID.SequenceNumber == 0 {
			return repl.GTID{}, false, b.unexpected(ev, "GTID with sequence number 0")
		}
		return repl.MariaDBGTID(e.GTID.DomainID, ev.Header.ServerID, e.GTID.SequenceNumber), e.IsStandalone(), nil
	case *replication.GTIDEvent:
		return b.mysqlGTID(ev, e)
	case *replication.GtidTaggedLogEvent:
		return b.mysqlGTID(ev, &e.GTIDEvent)
	}
	return repl.GTID{}, false, b.unexpected(ev, "GTID event not parsed as one")
}

func (b *txnBuilder) mysqlGTID(ev *replication.BinlogEvent, e *replication.GTIDEvent) (repl.GTID, bool, error) {
	if b.flavor != repl.MySQL {
		return repl.GTID{}, false, b.unexpected(ev, "MySQL GTID event from a server configured as mariadb")
	}
	u, err := uuid.FromBytes(e.SID)
	if err != nil || e.GNO <= 0 {
		return repl.GTID{}, false, b.unexpected(ev, "GTID event with a malformed source id or sequence number")
	}
	return repl.MySQLGTID(repl.UUID(u), e.Tag, uint64(e.GNO)), false, nil
}

func (b *txnBuilder) inside(ctx context.Context, ev *replication.BinlogEvent) (*built, error) {
	p := b.cur
	switch e := ev.Event.(type) {
	case *replication.QueryEvent:
		return b.query(ctx, ev, e)
	case *replication.XIDEvent:
		p.keep(ev)
		return b.finish(ev)
	case *replication.TableMapEvent:
		return nil, b.tableMap(ctx, ev, e)
	case *replication.RowsEvent:
		if p.skip[e.TableID] {
			return nil, nil
		}
		p.keep(ev)
		p.rowsEvents++
		return nil, nil
	case *replication.TransactionPayloadEvent:
		return b.payload(ctx, ev, e)
	}
	switch ev.Header.EventType {
	case replication.XA_PREPARE_LOG_EVENT:
		p.keep(ev)
		return b.finish(ev)
	case replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2:
		return nil, nil
	case replication.MARIADB_GTID_LIST_EVENT, replication.MARIADB_BINLOG_CHECKPOINT_EVENT,
		replication.PREVIOUS_GTIDS_EVENT, replication.STOP_EVENT:
		return nil, b.unexpected(ev, "binlog file event inside a transaction")
	}
	// Intvar, Rand, User_var, Annotate_rows, Rows_query... belong to the
	// transaction: keep them byte for byte.
	p.keep(ev)
	return nil, nil
}

func (p *pendingTxn) keep(ev *replication.BinlogEvent) {
	p.rec.Events = append(p.rec.Events, ev.RawData)
	p.bytes += len(ev.RawData)
}

// query places a query event. MariaDB marks groups with no terminating
// COMMIT (DDL, XA COMMIT) FL_STANDALONE; MySQL writes BEGIN (or XA START,
// or CREATE ... SELECT's "START TRANSACTION") first when an end event
// follows.
func (b *txnBuilder) query(ctx context.Context, ev *replication.BinlogEvent, e *replication.QueryEvent) (*built, error) {
	p := b.cur
	p.keep(ev)
	p.queries++
	q := strings.TrimSpace(string(e.Query))
	word := strings.ToUpper(firstWords(q, 2))
	switch {
	case word == "COMMIT" || word == "ROLLBACK" || strings.HasPrefix(word, "COMMIT "):
		return b.finish(ev)
	case word == "BEGIN" || word == "SAVEPOINT" || word == "RELEASE SAVEPOINT" ||
		strings.HasPrefix(word, "ROLLBACK ") || strings.HasPrefix(word, "XA "):
	default:
		if err := b.applyDDL(ctx, string(e.Schema), q); err != nil {
			return nil, fmt.Errorf("applying DDL of transaction %s to the schema history: %w", p.rec.GTID, err)
		}
	}
	ends := p.standalone
	if b.flavor == repl.MySQL && p.queries == 1 {
		opens := word == "BEGIN" || word == "XA START" || strings.HasSuffix(strings.ToUpper(q), "START TRANSACTION")
		ends = !opens
	}
	if ends || word == "XA COMMIT" || word == "XA ROLLBACK" {
		return b.finish(ev)
	}
	return nil, nil
}

// firstWords returns the first n space-separated words of s.
func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

func (b *txnBuilder) tableMap(ctx context.Context, ev *replication.BinlogEvent, e *replication.TableMapEvent) error {
	p := b.cur
	if !b.captures(string(e.Schema)) {
		if p.skip == nil {
			p.skip = map[uint64]bool{}
		}
		p.skip[e.TableID] = true
		return nil
	}
	p.keep(ev)
	return b.describe(ctx, ev, e)
}

// describe adds the schema of a mapped table to the record, once per id.
func (b *txnBuilder) describe(ctx context.Context, ev *replication.BinlogEvent, e *replication.TableMapEvent) error {
	p := b.cur
	for _, ts := range p.rec.Tables {
		if ts.TableID == e.TableID {
			return nil
		}
	}
	var key []byte
	if ev.Event == replication.Event(e) {
		key = b.mapKey(ev, e)
	}
	t, err := b.resolve(ctx, e, key)
	if err != nil {
		return fmt.Errorf("transaction %s: describing table %s.%s (table id %d) at %s:%d: %w; event bytes %s",
			p.rec.GTID, e.Schema, e.Table, e.TableID, b.file, ev.Header.LogPos, err, hexBounded(ev.RawData))
	}
	if p.rec.Tables == nil {
		p.rec.Tables = make([]capture.TableSchema, 0, 4)
	}
	p.rec.Tables = append(p.rec.Tables, capture.TableSchema{TableID: e.TableID, Table: t})
	return nil
}

// mapKey is what a table map event says about its table: its body from
// the flags after the table id to its end, without header or checksum,
// nil when the body is not where it should be. Two events with the same
// key describe the same table the same way (TableFromMap ignores the id).
func (b *txnBuilder) mapKey(ev *replication.BinlogEvent, e *replication.TableMapEvent) []byte {
	const tableIDSize = 6
	raw := ev.RawData
	if b.crc {
		raw = raw[:max(len(raw)-replication.BinlogChecksumLength, 0)]
	}
	at := replication.EventHeaderSize + tableIDSize // flags, then the schema name's length and bytes
	n := len(e.Schema)
	if len(raw) < at+3+n || int(raw[at+2]) != n || string(raw[at+3:at+3+n]) != string(e.Schema) {
		return nil
	}
	return raw[at:]
}

// tableCache keeps TableFromMap's results within a session: the same
// table map against the same schema history entry gives the same table.
// It is emptied by every DDL statement the history applies; an entry also
// holds the history table it was built from, and is used only with that
// very one (the history replaces, never modifies, a table it re-reads).
type tableCache struct {
	m map[string]cachedTable
}

type cachedTable struct {
	hist *repl.Table
	t    repl.Table
}

// maxCachedTables bounds a cache that DDL never empties.
const maxCachedTables = 4096

func (c *tableCache) get(key []byte, hist *repl.Table) (repl.Table, bool) {
	e, ok := c.m[string(key)]
	if !ok || e.hist != hist {
		return repl.Table{}, false
	}
	return e.t, true
}

func (c *tableCache) put(key []byte, hist *repl.Table, t repl.Table) {
	if c.m == nil || len(c.m) >= maxCachedTables {
		c.m = map[string]cachedTable{}
	}
	c.m[string(key)] = cachedTable{hist: hist, t: t}
}

func (c *tableCache) reset() { c.m = nil }

// payload handles a MySQL compressed transaction: its table maps are
// described, and it ends the transaction. Schema filtering does not reach
// inside it: it is kept whole.
func (b *txnBuilder) payload(ctx context.Context, ev *replication.BinlogEvent, e *replication.TransactionPayloadEvent) (*built, error) {
	b.cur.keep(ev)
	for _, inner := range e.Events {
		switch ie := inner.Event.(type) {
		case *replication.TableMapEvent:
			if err := b.describe(ctx, ev, ie); err != nil {
				return nil, err
			}
		case *replication.RowsEvent:
			b.cur.rowsEvents++
		}
	}
	return b.finish(ev)
}

func (b *txnBuilder) finish(ev *replication.BinlogEvent) (*built, error) {
	p := b.cur
	b.cur = nil
	p.rec.End = repl.BinlogPos{File: b.file, Pos: ev.Header.LogPos}
	p.rec.CommitTime = time.Unix(int64(ev.Header.Timestamp), 0).UTC()
	if p.duplicate {
		b.log.Warn("skipping a transaction already captured", "cluster", b.cluster, "gtid", p.rec.GTID.String(),
			"host", b.master)
		return nil, nil
	}
	pos, err := b.pos.Add(p.rec.GTID)
	if err != nil {
		return nil, fmt.Errorf("%w: adding %s to the captured position: %w", ErrUndecodable, p.rec.GTID, err)
	}
	b.pos = pos
	p.rec.After = pos
	return &built{rec: p.rec, rowsEvents: p.rowsEvents, bytes: p.bytes}, nil
}

// unexpected is the error for an event that does not fit the transaction
// structure: it names the event and quotes its bytes.
func (b *txnBuilder) unexpected(ev *replication.BinlogEvent, what string) error {
	h := ev.Header
	in := ""
	if b.cur != nil {
		in = " in transaction " + b.cur.rec.GTID.String()
	}
	return fmt.Errorf("%w: %s: %s event at %s:%d%s (server %d, %d bytes): %s", ErrUndecodable, what, h.EventType,
		b.file, h.LogPos, in, h.ServerID, h.EventSize, hexBounded(ev.RawData))
}

// hexBounded is b in hex, cut at maxHexBytes.
func hexBounded(b []byte) string {
	if len(b) <= maxHexBytes {
		return hex.EncodeToString(b)
	}
	return fmt.Sprintf("%s... (%d more bytes)", hex.EncodeToString(b[:maxHexBytes]), len(b)-maxHexBytes)
}
