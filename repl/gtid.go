package repl

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Flavor is the server family whose GTID rules apply.
type Flavor uint8

const (
	FlavorUnknown Flavor = iota
	MariaDB
	MySQL
)

func (f Flavor) String() string {
	switch f {
	case MariaDB:
		return "mariadb"
	case MySQL:
		return "mysql"
	}
	return "unknown"
}

// ParseFlavor accepts "mariadb" or "mysql" (any case).
func ParseFlavor(s string) (Flavor, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "mariadb":
		return MariaDB, nil
	case "mysql":
		return MySQL, nil
	}
	return FlavorUnknown, fmt.Errorf("unknown server flavor %q: want mariadb or mysql", s)
}

// ErrBadGTID is wrapped by every GTID and GTID set parse error.
var ErrBadGTID = errors.New("invalid GTID")

// UUID is a MySQL server uuid.
type UUID [16]byte

func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ParseUUID accepts the 8-4-4-4-12 form, or 32 hex digits, in any case.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	h := s
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return u, fmt.Errorf("%w: uuid %q", ErrBadGTID, s)
		}
		h = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	if len(h) != 32 {
		return u, fmt.Errorf("%w: uuid %q", ErrBadGTID, s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("%w: uuid %q", ErrBadGTID, s)
	}
	return u, nil
}

// GTID identifies one transaction. For MariaDB it is domain-server-seq; for
// MySQL it is uuid:gno or, from 8.4, uuid:tag:gno. GTID is a comparable
// value: == compares flavor and every field.
type GTID struct {
	Flavor Flavor
	Domain uint32 // MariaDB gtid_domain_id
	Server uint32 // MariaDB server_id of the origin
	UUID   UUID   // MySQL source uuid
	Tag    string // MySQL 8.4 tag, lower case; "" when untagged
	Seq    uint64 // MariaDB seq_no or MySQL gno; >= 1
}

// MariaDBGTID builds a MariaDB GTID.
func MariaDBGTID(domain, server uint32, seq uint64) GTID {
	return GTID{Flavor: MariaDB, Domain: domain, Server: server, Seq: seq}
}

// MySQLGTID builds a MySQL GTID; tag is "" when untagged.
func MySQLGTID(uuid UUID, tag string, gno uint64) GTID {
	return GTID{Flavor: MySQL, UUID: uuid, Tag: strings.ToLower(tag), Seq: gno}
}

// IsZero reports whether g is the zero GTID (no transaction).
func (g GTID) IsZero() bool { return g == GTID{} }

// String is the server's text form: "0-1-42", "uuid:42" or "uuid:tag:42".
func (g GTID) String() string {
	switch g.Flavor {
	case MariaDB:
		var buf [64]byte // strconv, not fmt: this runs for every captured transaction
		b := strconv.AppendUint(buf[:0], uint64(g.Domain), 10)
		b = strconv.AppendUint(append(b, '-'), uint64(g.Server), 10)
		b = strconv.AppendUint(append(b, '-'), g.Seq, 10)
		return string(b)
	case MySQL:
		if g.Tag != "" {
			return g.UUID.String() + ":" + g.Tag + ":" + strconv.FormatUint(g.Seq, 10)
		}
		return g.UUID.String() + ":" + strconv.FormatUint(g.Seq, 10)
	}
	return ""
}

// ParseGTID parses one GTID of the given flavor.
func ParseGTID(f Flavor, s string) (GTID, error) {
	s = strings.TrimSpace(s)
	switch f {
	case MariaDB:
		parts := strings.Split(s, "-")
		if len(parts) != 3 {
			return GTID{}, fmt.Errorf("%w: %q is not domain-server-seq", ErrBadGTID, s)
		}
		d, err1 := parseUint(parts[0], 32)
		sv, err2 := parseUint(parts[1], 32)
		n, err3 := parseUint(parts[2], 64)
		if err := errors.Join(err1, err2, err3); err != nil || n == 0 {
			return GTID{}, fmt.Errorf("%w: %q is not domain-server-seq with seq >= 1", ErrBadGTID, s)
		}
		return MariaDBGTID(uint32(d), uint32(sv), n), nil
	case MySQL:
		parts := strings.Split(s, ":")
		if len(parts) != 2 && len(parts) != 3 {
			return GTID{}, fmt.Errorf("%w: %q is not uuid[:tag]:gno", ErrBadGTID, s)
		}
		u, err := ParseUUID(parts[0])
		if err != nil {
			return GTID{}, err
		}
		tag := ""
		if len(parts) == 3 {
			if tag, err = parseTag(parts[1]); err != nil {
				return GTID{}, err
			}
		}
		n, err := parseUint(parts[len(parts)-1], 63)
		if err != nil || n == 0 {
			return GTID{}, fmt.Errorf("%w: %q: gno must be 1..2^63-1", ErrBadGTID, s)
		}
		return MySQLGTID(u, tag, n), nil
	}
	return GTID{}, fmt.Errorf("%w: unknown flavor", ErrBadGTID)
}

// maxGNO is the highest MySQL gno: gnos are signed 64-bit on the server.
const maxGNO = 1<<63 - 1

// check reports why g cannot be a member of a set: an unknown flavor, a
// sequence number out of range, an invalid tag, or fields of the other
// flavor set.
func (g GTID) check() error {
	switch g.Flavor {
	case MariaDB:
		if g.UUID != (UUID{}) || g.Tag != "" {
			return fmt.Errorf("%w: MariaDB GTID %s has a uuid or tag", ErrBadGTID, g)
		}
		if g.Seq == 0 {
			return fmt.Errorf("%w: MariaDB GTID %s: seq must be >= 1", ErrBadGTID, g)
		}
	case MySQL:
		if g.Domain != 0 || g.Server != 0 {
			return fmt.Errorf("%w: MySQL GTID %s has a MariaDB domain or server id", ErrBadGTID, g)
		}
		if g.Seq == 0 || g.Seq > maxGNO {
			return fmt.Errorf("%w: MySQL GTID %s: gno must be 1..2^63-1", ErrBadGTID, g)
		}
		if g.Tag != "" {
			if t, err := parseTag(g.Tag); err != nil || t != g.Tag {
				return fmt.Errorf("%w: MySQL GTID %s: tag must be lower case [a-z_][a-z0-9_]{0,31}", ErrBadGTID, g)
			}
		}
	default:
		return fmt.Errorf("%w: GTID %+v has no flavor", ErrBadGTID, g)
	}
	return nil
}

// parseUint parses a decimal number that fits in bits: digits only, no sign.
func parseUint(s string, bits int) (uint64, error) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("%w: number %q", ErrBadGTID, s)
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%w: number %q", ErrBadGTID, s)
	}
	return n, nil
}

// parseTag validates a MySQL 8.4 GTID tag: [a-z_][a-z0-9_]{0,31}, case-insensitive.
func parseTag(s string) (string, error) {
	t := strings.ToLower(s)
	if len(t) == 0 || len(t) > 32 {
		return "", fmt.Errorf("%w: tag %q must be 1 to 32 characters", ErrBadGTID, s)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return "", fmt.Errorf("%w: tag %q: letters, digits and _ only, not starting with a digit", ErrBadGTID, s)
		}
	}
	return t, nil
}
