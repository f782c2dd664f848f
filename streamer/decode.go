package streamer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// ErrDecode is wrapped by every DecodeTxn error.
var ErrDecode = errors.New("cannot decode captured transaction")

// maxErrorText bounds the go-mysql error text kept in DecodeTxn's errors:
// go-mysql quotes whole events, up to megabytes, in some of them.
const maxErrorText = 512

// DecodeTxn decodes a captured transaction's raw events into typed row
// changes and statements.
//
// Rows events (WRITE, UPDATE and DELETE, versions 1 and 2, and MariaDB's
// compressed forms) become RowChanges whose Table is rec.Tables' schema for
// the event's table id; a table id missing from rec.Tables falls back to
// TableFromMap on the event's table map (FULL metadata needed). Row images
// must be FULL. Query events other than BEGIN, COMMIT and ROLLBACK become
// Statements (DDL, XA END and XA COMMIT, statement-format DML). Value conventions are those of repl.Value: see
// columnDecoder.value for the mapping of each binlog type.
//
// The transaction's GTID, server id and commit time come from rec; the
// GTID event, when present, must agree with rec.GTID (or gives it when
// rec.GTID is zero).
//
// Input is not trusted: a malformed, truncated or corrupted record (CRC32
// checksums are verified when the server wrote them) gives an error
// wrapping ErrDecode, naming the event's index and binlog offset, and never
// a panic.
func DecodeTxn(rec capture.Record) (repl.Txn, error) {
	if rec.Kind != capture.KindTxn {
		return repl.Txn{}, fmt.Errorf("%w: record at offset %d is a %s record", ErrDecode, rec.Offset, rec.Kind)
	}
	if len(rec.Events) == 0 {
		return repl.Txn{}, fmt.Errorf("%w: %s: record has no events", ErrDecode, rec.GTID)
	}
	d := newTxnDecoder(rec)
	if err := d.formatDescription(rec.FormatDesc); err != nil {
		return repl.Txn{}, fmt.Errorf("%w: %s: format description event: %w", ErrDecode, rec.GTID, err)
	}
	for i, raw := range rec.Events {
		if err := d.event(raw); err != nil {
			return repl.Txn{}, fmt.Errorf("%w: %s: event %d%s: %w", ErrDecode, rec.GTID, i, eventOffset(raw), err)
		}
	}
	txn, err := d.finish()
	if err != nil {
		return repl.Txn{}, fmt.Errorf("%w: %s: %w", ErrDecode, rec.GTID, err)
	}
	return txn, nil
}

// eventOffset describes where a raw event started in its binlog file, from
// its header's end position and size.
func eventOffset(raw []byte) string {
	if len(raw) < replication.EventHeaderSize {
		return fmt.Sprintf(" (%d bytes, shorter than an event header)", len(raw))
	}
	size := binary.LittleEndian.Uint32(raw[9:13])
	end := binary.LittleEndian.Uint32(raw[13:17])
	if end >= size && end > 0 {
		return fmt.Sprintf(" at binlog offset %d", end-size)
	}
	return ""
}

// txnDecoder holds the state of one DecodeTxn call.
type txnDecoder struct {
	rec      capture.Record
	p        *replication.BinlogParser
	checksum bool                     // events end with a CRC32
	idSize   int                      // table id size in table map events; 0 until the format description
	evType   replication.EventType    // type of the event being parsed
	schemas  map[uint64]*repl.Table   // rec.Tables by table id
	tables   map[uint64]*tableDecoder // by table id, from the table maps seen
	gtid     repl.GTID
	serverID uint32
	lastTime uint32
	txn      repl.Txn
}

func newTxnDecoder(rec capture.Record) *txnDecoder {
	d := &txnDecoder{
		rec:     rec,
		p:       replication.NewBinlogParser(),
		schemas: make(map[uint64]*repl.Table, len(rec.Tables)),
		tables:  make(map[uint64]*tableDecoder),
	}
	for i := range rec.Tables {
		t := rec.Tables[i].Table
		d.schemas[rec.Tables[i].TableID] = &t
	}
	// Exact values: decimals as the server's text with every digit of the
	// column's scale (go-mysql's string form is exactly that; UseDecimal
	// would round-trip it through a big number for nothing), temporal
	// values as text, TIMESTAMPs in UTC. UseFloatWithTrailingZero only
	// affects MySQL JSON documents; floats of FLOAT and DOUBLE columns are
	// kept as their bits.
	d.p.SetUseDecimal(false)
	d.p.SetParseTime(false)
	d.p.SetTimestampStringLocation(time.UTC)
	d.p.SetUseFloatWithTrailingZero(true)
	d.p.SetVerifyChecksum(true)
	d.p.SetRowsEventDecodeFunc(d.decodeRows)
	return d
}

// formatDescription parses the binlog file's format description event,
// which tells the checksum algorithm, post-header lengths and flavor.
func (d *txnDecoder) formatDescription(raw []byte) error {
	ev, err := d.parse(raw)
	if err != nil {
		return err
	}
	fde, ok := ev.Event.(*replication.FormatDescriptionEvent)
	if !ok {
		return fmt.Errorf("is a %s event", ev.Header.EventType) // not reached: parse checks the type
	}
	if len(fde.EventTypeHeaderLengths) < int(replication.DELETE_ROWS_EVENTv2) {
		return fmt.Errorf("has %d post-header lengths, too few", len(fde.EventTypeHeaderLengths))
	}
	d.checksum = fde.ChecksumAlgorithm == replication.BINLOG_CHECKSUM_ALG_CRC32
	d.idSize = 6
	if fde.EventTypeHeaderLengths[replication.TABLE_MAP_EVENT-1] == 6 {
		d.idSize = 4
	}
	flavor := "mysql"
	if strings.Contains(strings.ToLower(fde.ServerVersion), "mariadb") {
		flavor = "mariadb"
	}
	d.p.SetFlavor(flavor)
	return nil
}

// parse parses one raw event, turning go-mysql panics into errors.
func (d *txnDecoder) parse(raw []byte) (ev *replication.BinlogEvent, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("malformed %s event: go-mysql panicked: %s", d.evType, shorten(fmt.Sprint(r)))
		}
	}()
	if len(raw) < replication.EventHeaderSize {
		return nil, fmt.Errorf("event of %d bytes is shorter than its header", len(raw))
	}
	if size := binary.LittleEndian.Uint32(raw[9:13]); int64(size) != int64(len(raw)) {
		return nil, fmt.Errorf("event header says %d bytes, have %d", size, len(raw))
	}
	d.evType = replication.EventType(raw[4])
	switch d.evType {
	case replication.FORMAT_DESCRIPTION_EVENT:
		if d.idSize != 0 {
			return nil, errors.New("unexpected format description event inside a transaction")
		}
	case replication.MARIADB_QUERY_COMPRESSED_EVENT:
		err = checkCompressedQuery(d.body(raw))
	case replication.TABLE_MAP_EVENT:
		err = checkTableMapBody(d.body(raw), d.idSize)
	default:
		err = checkInTxn(d.evType)
	}
	if err != nil {
		return nil, err
	}
	if d.idSize == 0 && d.evType != replication.FORMAT_DESCRIPTION_EVENT {
		return nil, fmt.Errorf("is a %s event", d.evType)
	}
	ev, err = d.p.Parse(raw)
	if err != nil {
		msg := err.Error()
		var ee *replication.EventError
		if errors.As(err, &ee) {
			msg = ee.Err // without the header and data dump
		}
		if errors.Is(err, replication.ErrChecksumMismatch) {
			return nil, fmt.Errorf("%s event: %w", d.evType, err)
		}
		return nil, fmt.Errorf("parse %s event: %s", d.evType, shorten(msg))
	}
	return ev, nil
}

// body is an event's data between its header and its checksum.
func (d *txnDecoder) body(raw []byte) []byte {
	b := raw[replication.EventHeaderSize:]
	if d.checksum && len(b) >= replication.BinlogChecksumLength {
		b = b[:len(b)-replication.BinlogChecksumLength]
	}
	return b
}

func shorten(s string) string {
	if len(s) > maxErrorText {
		return s[:maxErrorText] + "..."
	}
	return s
}

// event decodes one event of the transaction.
func (d *txnDecoder) event(raw []byte) error {
	ev, err := d.parse(raw)
	if err != nil {
		return err
	}
	d.lastTime = ev.Header.Timestamp
	switch e := ev.Event.(type) {
	case *replication.MariadbGTIDEvent:
		return d.setGTID(repl.MariaDBGTID(e.GTID.DomainID, ev.Header.ServerID, e.GTID.SequenceNumber), ev.Header.ServerID)
	case *replication.GtidTaggedLogEvent:
		return d.mysqlGTID(&e.GTIDEvent, ev.Header.ServerID)
	case *replication.GTIDEvent:
		if ev.Header.EventType == replication.ANONYMOUS_GTID_EVENT {
			return errors.New("anonymous transaction: gtid_mode=ON is required")
		}
		return d.mysqlGTID(e, ev.Header.ServerID)
	case *replication.QueryEvent:
		d.query(e)
	case *replication.TableMapEvent:
		return d.tableMap(e)
	case *replication.RowsEvent:
		return d.rows(e)
	}
	// XID, XA prepare, annotate rows, rows query, intvar, rand and user var
	// events carry nothing a row-based transaction needs (a MariaDB XA
	// PREPARE group shows in its "XA END" statement); checkInTxn rejected
	// the event types that do not belong in a transaction.
	return nil
}

func (d *txnDecoder) mysqlGTID(e *replication.GTIDEvent, serverID uint32) error {
	if len(e.SID) != len(repl.UUID{}) || e.GNO <= 0 {
		return fmt.Errorf("malformed GTID event: sid of %d bytes, gno %d", len(e.SID), e.GNO)
	}
	var u repl.UUID
	copy(u[:], e.SID)
	return d.setGTID(repl.MySQLGTID(u, e.Tag, uint64(e.GNO)), serverID)
}

func (d *txnDecoder) setGTID(g repl.GTID, serverID uint32) error {
	if !d.gtid.IsZero() {
		return fmt.Errorf("second GTID event %s in the transaction of %s", g, d.gtid)
	}
	if !d.rec.GTID.IsZero() && g != d.rec.GTID {
		return fmt.Errorf("GTID event says %s but the record is %s", g, d.rec.GTID)
	}
	d.gtid, d.serverID = g, serverID
	return nil
}

func (d *txnDecoder) query(e *replication.QueryEvent) {
	q := string(e.Query)
	switch strings.ToUpper(strings.TrimSpace(q)) {
	case "BEGIN", "COMMIT", "ROLLBACK":
		return
	}
	d.txn.Statements = append(d.txn.Statements, repl.Statement{Schema: string(e.Schema), Query: q})
}

// tableMap binds a table id to its schema and column decoders. A table is
// mapped again before each statement; the decoders are reused when the
// column types are the same.
func (d *txnDecoder) tableMap(e *replication.TableMapEvent) error {
	if td, ok := d.tables[e.TableID]; ok && td.sameLayout(e) {
		return nil
	}
	t, ok := d.schemas[e.TableID]
	if !ok {
		built, err := TableFromMap(e, nil)
		if err != nil {
			return fmt.Errorf("table id %d (%s.%s) has no schema in the record: %w", e.TableID, e.Schema, e.Table, err)
		}
		t = &built
		d.schemas[e.TableID] = t
	}
	td, err := newTableDecoder(e, t)
	if err != nil {
		return err
	}
	d.tables[e.TableID] = td
	return nil
}

// decodeRows is go-mysql's rows event decoder with checks that keep bad
// input from looping or allocating without bound: the column count must be
// the table map's, the row image FULL, and a compressed body's declared
// size plausible.
func (d *txnDecoder) decodeRows(re *replication.RowsEvent, body []byte) error {
	pos, err := re.DecodeHeader(body)
	if err != nil {
		return err
	}
	n := re.Table.ColumnCount
	if re.ColumnCount == 0 || re.ColumnCount != n {
		return fmt.Errorf("rows event has %d columns, its table map %d", re.ColumnCount, n)
	}
	if !allSet(re.ColumnBitmap1, int(n)) || (re.ColumnBitmap2 != nil && !allSet(re.ColumnBitmap2, int(n))) {
		return fmt.Errorf("row image of %s.%s lacks columns: binlog_row_image=FULL is required", re.Table.Schema, re.Table.Table)
	}
	switch d.evType {
	case replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		if err := checkCompressed(body[pos:]); err != nil {
			return err
		}
	case replication.PARTIAL_UPDATE_ROWS_EVENT:
		return errors.New("partial JSON updates are not supported: binlog_row_value_options must be empty")
	}
	return re.DecodeData(pos, body)
}

func allSet(bitmap []byte, n int) bool {
	if len(bitmap) != (n+7)/8 {
		return false
	}
	for i := range n {
		if bitmap[i/8]&(1<<(i%8)) == 0 {
			return false
		}
	}
	return true
}

// rows converts a rows event into row changes.
func (d *txnDecoder) rows(e *replication.RowsEvent) error {
	td, ok := d.tables[e.TableID]
	if !ok {
		return fmt.Errorf("rows event for table id %d without a table map", e.TableID)
	}
	typ := e.Type()
	step := 1
	if typ == replication.EnumRowsEventTypeUpdate {
		step = 2
		if len(e.Rows)%2 != 0 {
			return fmt.Errorf("update rows event on %s has %d images, not pairs", td.table.QualifiedName(), len(e.Rows))
		}
	}
	// One allocation for the event's changes and one for its images' values:
	// a rows event holds many small rows.
	d.txn.Changes = slices.Grow(d.txn.Changes, len(e.Rows)/step)
	n := len(td.cols)
	slab := make([]repl.Value, len(e.Rows)*n)
	image := func(j int) (repl.Row, error) { return td.row(e.Rows[j], slab[j*n:(j+1)*n:(j+1)*n]) }
	for i := 0; i < len(e.Rows); i += step {
		first, err := image(i)
		if err != nil {
			return fmt.Errorf("%s row %d: %w", td.table.QualifiedName(), i/step+1, err)
		}
		ch := repl.RowChange{Table: td.table}
		switch typ {
		case replication.EnumRowsEventTypeInsert:
			ch.After = first
		case replication.EnumRowsEventTypeDelete:
			ch.Before = first
		case replication.EnumRowsEventTypeUpdate:
			ch.Before = first
			if ch.After, err = image(i + 1); err != nil {
				return fmt.Errorf("%s row %d after image: %w", td.table.QualifiedName(), i/step+1, err)
			}
		default:
			return fmt.Errorf("rows event of unknown kind %s", typ)
		}
		d.txn.Changes = append(d.txn.Changes, ch)
	}
	return nil
}

// finish fills the transaction's identity from the record and the events.
func (d *txnDecoder) finish() (repl.Txn, error) {
	t := d.txn
	t.GTID, t.ServerID, t.CommitTime = d.rec.GTID, d.rec.ServerID, d.rec.CommitTime
	t.Start, t.End = d.rec.Start, d.rec.End
	if t.GTID.IsZero() {
		t.GTID = d.gtid
	}
	if t.GTID.IsZero() {
		return repl.Txn{}, errors.New("neither the record nor its events give a GTID")
	}
	if t.ServerID == 0 {
		t.ServerID = d.serverID
	}
	if t.CommitTime.IsZero() && d.lastTime != 0 {
		t.CommitTime = time.Unix(int64(d.lastTime), 0).UTC()
	}
	return t, nil
}
