package streamer

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// Checks that run on raw events before go-mysql parses them. go-mysql trusts
// its input: it panics on short data (DecodeTxn recovers from that) but also
// allocates what counts in the data ask for, and a corrupted count can ask
// for gigabytes, which kills the process instead of panicking. These checks
// bound every such count that a transaction's events can carry.

// checkInTxn rejects event types that do not belong inside a transaction,
// before go-mysql decodes them: some (MariaDB GTID lists, MySQL previous
// GTIDs, transaction payloads) allocate from counts in their data.
func checkInTxn(t replication.EventType) error {
	switch t {
	case replication.MARIADB_GTID_EVENT, replication.GTID_EVENT, replication.ANONYMOUS_GTID_EVENT,
		replication.GTID_TAGGED_LOG_EVENT, replication.QUERY_EVENT, replication.MARIADB_QUERY_COMPRESSED_EVENT,
		replication.TABLE_MAP_EVENT, replication.XID_EVENT, replication.MARIADB_ANNOTATE_ROWS_EVENT,
		replication.ROWS_QUERY_EVENT, replication.INTVAR_EVENT, replication.RAND_EVENT, replication.USER_VAR_EVENT,
		replication.IGNORABLE_EVENT, replication.XA_PREPARE_LOG_EVENT,
		replication.WRITE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv0,
		replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1,
		replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1, replication.PARTIAL_UPDATE_ROWS_EVENT:
		return nil
	case replication.TRANSACTION_PAYLOAD_EVENT:
		return errors.New("compressed transaction payload events are not supported (set binlog_transaction_compression=OFF)")
	case replication.BEGIN_LOAD_QUERY_EVENT, replication.EXECUTE_LOAD_QUERY_EVENT:
		return fmt.Errorf("%s events (statement-based LOAD DATA) are not supported: binlog_format=ROW is required", t)
	}
	return fmt.Errorf("unexpected %s event inside a transaction", t)
}

// lenenc reads a length-encoded integer.
func lenenc(b []byte) (v uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, errors.New("truncated length-encoded integer")
	}
	switch b[0] {
	case 0xfb:
		return 0, 1, nil
	case 0xfc:
		n = 3
	case 0xfd:
		n = 4
	case 0xfe:
		n = 9
	case 0xff:
		return 0, 0, errors.New("invalid length-encoded integer")
	default:
		return uint64(b[0]), 1, nil
	}
	if len(b) < n {
		return 0, 0, errors.New("truncated length-encoded integer")
	}
	return mysql.FixedLengthInt(b[1:n]), n, nil
}

// checkTableMapBody walks a table map event's body (after the header,
// without checksum) and bounds the member counts of its ENUM and SET
// metadata, which go-mysql allocates before reading the members.
func checkTableMapBody(b []byte, tableIDSize int) error {
	truncated := errors.New("table map event is truncated")
	pos := tableIDSize + 2
	for range 2 { // schema and table names: length byte, name, NUL
		if pos >= len(b) {
			return truncated
		}
		pos += 1 + int(b[pos]) + 1
	}
	if pos > len(b) {
		return truncated
	}
	cols, n, err := lenenc(b[pos:])
	if err != nil {
		return err
	}
	if cols == 0 || cols > uint64(len(b)) {
		return fmt.Errorf("table map event declares %d columns in %d bytes", cols, len(b))
	}
	pos += n + int(cols)
	if pos > len(b) {
		return truncated
	}
	metaLen, n, err := lenenc(b[pos:])
	if err != nil || metaLen > uint64(len(b)) {
		return truncated
	}
	pos += n + int(metaLen) + int(cols+7)/8
	for pos < len(b) { // optional metadata: type, length, value
		typ := b[pos]
		l, n, err := lenenc(b[pos+1:])
		if err != nil || l > uint64(len(b)-pos-1-n) {
			return truncated
		}
		v := b[pos+1+n : pos+1+n+int(l)]
		pos += 1 + n + int(l)
		if typ == replication.TABLE_MAP_OPT_META_SET_STR_VALUE || typ == replication.TABLE_MAP_OPT_META_ENUM_STR_VALUE {
			if err := checkStrValues(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkStrValues checks ENUM or SET member lists: per column a count, then
// that many length-encoded strings.
func checkStrValues(v []byte) error {
	for p := 0; p < len(v); {
		count, n, err := lenenc(v[p:])
		if err != nil {
			return err
		}
		p += n
		if count > uint64(len(v)-p) {
			return fmt.Errorf("table map event declares %d members in %d bytes", count, len(v)-p)
		}
		for range count {
			l, n, err := lenenc(v[p:])
			if err != nil || l > uint64(len(v)-p-n) {
				return errors.New("table map event has a truncated member list")
			}
			p += n + int(l)
		}
	}
	return nil
}

// maxDecompressed bounds the size a compressed event may declare: a
// server event is at most 1 GiB, and zlib cannot expand data more than
// about 1032 times.
func maxDecompressed(compressed int) uint64 {
	return min(uint64(1)<<30, uint64(compressed)*1100+1024)
}

// checkCompressed validates MariaDB's compressed-data header (one byte
// whose low 3 bits give the size length, then the uncompressed size, big
// endian) before go-mysql allocates that size.
func checkCompressed(data []byte) error {
	if len(data) < 2 {
		return errors.New("compressed event body is truncated")
	}
	n := int(data[0] & 0x07)
	if n < 1 || n > 4 || len(data) < 1+n {
		return fmt.Errorf("compressed event body has a %d-byte size field", n)
	}
	if size := mysql.BFixedLengthInt(data[1 : 1+n]); size > maxDecompressed(len(data)) {
		return fmt.Errorf("compressed event body of %d bytes declares %d uncompressed", len(data), size)
	}
	return nil
}

// checkCompressedQuery locates the compressed query of a MariaDB query
// compressed event and checks its header.
func checkCompressedQuery(body []byte) error {
	const fixed = 4 + 4 + 1 + 2 + 2 // proxy id, exec time, schema len, error code, status vars len
	if len(body) < fixed {
		return errors.New("compressed query event is truncated")
	}
	off := fixed + int(binary.LittleEndian.Uint16(body[11:13])) + int(body[8]) + 1
	if off >= len(body) {
		return errors.New("compressed query event is truncated")
	}
	return checkCompressed(body[off:])
}
