package applier

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/recoup-dev/recoup/capture"
)

// Binlog event type codes (the byte at offset 4 of every event header), as
// both server families define them. Only what the applier acts on.
const (
	evQuery          = 2
	evIntvar         = 5
	evRand           = 13
	evUserVar        = 14
	evFormatDesc     = 15
	evXID            = 16
	evTableMap       = 19
	evRowsQuery      = 29
	evGTID           = 33 // MySQL
	evAnonymousGTID  = 34
	evGTIDTagged     = 42 // MySQL 8.4
	evAnnotateRows   = 160
	evMariaDBGTID    = 162
	eventHeaderBytes = 19
	// rowsStmtEndFlag is STMT_END_F in a rows event's post-header flags:
	// the last rows event of a statement.
	rowsStmtEndFlag = 0x0001
	// tableMapHasTriggers is MariaDB's TM_BIT_HAS_TRIGGERS_F in a table
	// map event's flags: the table had triggers on the origin.
	tableMapHasTriggers = 1 << 14
)

// isRowsEvent reports whether t is a rows event the server's BINLOG
// statement applies: versions 0 to 2 and MariaDB's compressed forms.
func isRowsEvent(t byte) bool {
	switch {
	case t >= 20 && t <= 25, t >= 30 && t <= 32, t >= 166 && t <= 171:
		return true
	}
	return false
}

// skippedInReplay reports whether an event of type t carries nothing the
// replay needs: the GTID event and BEGIN/XID are replaced by the applier's
// own SET, BEGIN and COMMIT; annotations are comments.
func skippedInReplay(t byte) bool {
	switch t {
	case evGTID, evAnonymousGTID, evGTIDTagged, evMariaDBGTID, evXID, evAnnotateRows, evRowsQuery:
		return true
	}
	return false
}

// eventFlags16 reads the 16-bit flags field that table map and rows
// events keep after their 6-byte table id.
func eventFlags16(raw []byte) (uint16, bool) {
	const at = eventHeaderBytes + 6
	if len(raw) < at+2 {
		return 0, false
	}
	return binary.LittleEndian.Uint16(raw[at : at+2]), true
}

// binlogStatement is one BINLOG 'base64' statement's payload: whole events.
type binlogStatement []byte

// SQL is the statement text. Base64 has no quote or backslash, so the
// payload cannot escape the literal; it is the server's own replay format
// (what mariadb-binlog prints), not a formatted value.
func (b binlogStatement) SQL() string { return b.sqlAfter("") }

// sqlAfter is prefix followed by SQL(), written in one allocation: the
// payloads run to megabytes.
func (b binlogStatement) sqlAfter(prefix string) string {
	var s strings.Builder
	s.Grow(len(prefix) + len("BINLOG ''") + base64.StdEncoding.EncodedLen(len(b)))
	s.WriteString(prefix)
	s.WriteString("BINLOG '")
	var chunk [1024]byte // base64 of 768 bytes: whole 3-byte groups but the last
	for len(b) > 0 {
		n := min(len(b), 768)
		base64.StdEncoding.Encode(chunk[:], b[:n])
		s.Write(chunk[:base64.StdEncoding.EncodedLen(n)])
		b = b[n:]
	}
	s.WriteByte('\'')
	return s.String()
}

// fdeStatement is the BINLOG statement that installs a format description
// event in the session: it must run before the events it describes.
func fdeStatement(fde []byte) (binlogStatement, error) {
	if len(fde) < eventHeaderBytes || fde[4] != evFormatDesc {
		return nil, fmt.Errorf("record has no format description event (%d bytes)", len(fde))
	}
	return binlogStatement(fde), nil
}

// replayStatements groups a transaction's table map and rows events into
// BINLOG statements, one per SQL statement of the origin (ending at a rows
// event with STMT_END_F), as mariadb-binlog does. Query events other than
// BEGIN/COMMIT, and statement-format events, cannot be replayed: error.
func replayStatements(rec capture.Record) ([]binlogStatement, error) {
	size := 0
	for _, raw := range rec.Events {
		size += len(raw)
	}
	buf := make([]byte, 0, size) // the statements are consecutive pieces of it
	start := 0
	var out []binlogStatement
	for i, raw := range rec.Events {
		if len(raw) < eventHeaderBytes {
			return nil, fmt.Errorf("event %d of %s is %d bytes, shorter than a header", i, rec.GTID, len(raw))
		}
		t := raw[4]
		switch {
		case skippedInReplay(t):
			continue
		case t == evQuery:
			if !isTxnControl(raw) {
				return nil, fmt.Errorf("event %d of %s is a statement (DDL or statement-format DML): not replayable as rows", i, rec.GTID)
			}
			continue
		case t == evIntvar || t == evRand || t == evUserVar:
			return nil, fmt.Errorf("event %d of %s belongs to a statement-format statement: not replayable as rows", i, rec.GTID)
		case t != evTableMap && !isRowsEvent(t):
			return nil, fmt.Errorf("event %d of %s has type %d, which the applier does not replay", i, rec.GTID, t)
		}
		buf = append(buf, raw...)
		if flags, ok := eventFlags16(raw); ok && isRowsEvent(t) && flags&rowsStmtEndFlag != 0 {
			out = append(out, binlogStatement(buf[start:len(buf):len(buf)]))
			start = len(buf)
		}
	}
	if len(buf) > start {
		out = append(out, binlogStatement(buf[start:]))
	}
	return out, nil
}

// isTxnControl reports whether a query event's query is BEGIN, COMMIT or
// ROLLBACK, which the applier issues itself. The query is the event's last
// part: after the 13-byte post-header, the status variables and the
// NUL-terminated schema name, up to the end or a 4-byte checksum.
func isTxnControl(raw []byte) bool {
	body := raw[eventHeaderBytes:]
	const post = 13
	if len(body) < post {
		return false
	}
	off := post + int(binary.LittleEndian.Uint16(body[11:13])) + int(body[8]) + 1
	if off > len(body) {
		return false
	}
	q := body[off:]
	for _, word := range []string{"BEGIN", "COMMIT", "ROLLBACK"} {
		if string(q) == word || (len(q) == len(word)+4 && string(q[:len(word)]) == word) {
			return true
		}
	}
	return false
}

// hasTriggerFlag reports whether any table map event of rec says the table
// had triggers on the origin (MariaDB only; MySQL never sets the flag).
func hasTriggerFlag(rec capture.Record) bool {
	for _, raw := range rec.Events {
		if len(raw) > 4 && raw[4] == evTableMap {
			if f, ok := eventFlags16(raw); ok && f&tableMapHasTriggers != 0 {
				return true
			}
		}
	}
	return false
}

// binlogOverhead is what a BINLOG statement adds to its base64 payload
// (the keyword and quotes) plus the packet header, with room to spare.
const binlogOverhead = 1024

// splitForPacket splits a statement's events into several BINLOG
// statements whose text fits maxPacket bytes, at rows-event boundaries:
// each part carries every table map event of the statement seen up to it,
// then some of its rows events. Only the last part holds the rows event
// with STMT_END_F, so the server keeps the statement open (and the tables
// mapped) from one part to the next, inside the replay's DB transaction.
// A statement that fits is returned as is; a single event too large for
// a packet is an error.
func splitForPacket(st binlogStatement, maxPacket int64) ([]binlogStatement, error) {
	limit := (maxPacket - binlogOverhead) / 4 * 3 // raw bytes whose base64 fits
	if int64(len(st)) <= limit {
		return []binlogStatement{st}, nil
	}
	var out []binlogStatement
	var maps, cur []byte
	rows := false // cur holds rows events
	for off := 0; off < len(st); {
		if len(st)-off < eventHeaderBytes {
			return nil, fmt.Errorf("a truncated event at byte %d of a BINLOG statement", off)
		}
		n := int(binary.LittleEndian.Uint32(st[off+9 : off+13]))
		if n < eventHeaderBytes || off+n > len(st) {
			return nil, fmt.Errorf("an event of %d bytes at byte %d of a %d-byte BINLOG statement", n, off, len(st))
		}
		ev := st[off : off+n]
		off += n
		if int64(len(maps)+n) > limit {
			return nil, fmt.Errorf("a binlog event of %d bytes (with its table maps) cannot fit the new master's max_allowed_packet (%d)", n, maxPacket)
		}
		if rows && int64(len(cur)+n) > limit {
			out = append(out, binlogStatement(cur))
			cur, rows = bytes.Clone(maps), false
		}
		if ev[4] == evTableMap {
			maps = append(maps, ev...)
		} else {
			rows = true
		}
		cur = append(cur, ev...)
	}
	return append(out, binlogStatement(cur)), nil
}
