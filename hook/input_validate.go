package hook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on untrusted values.
const (
	MaxHostLen     = 253 // a DNS name's limit
	MaxAliasLen    = 64  // SafeName then stays within 192 bytes (Kafka allows 249)
	MaxRecoveryUID = 128
	maxListEntries = 10000
	maxBinlogFile  = 255
)

// Addr is a validated host and port.
type Addr struct {
	Host string
	Port int
}

// String is host:port, with brackets around an IPv6 literal.
func (a Addr) String() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// ParseAddr reads host:port as Orchestrator prints an instance key. The
// port follows the last colon, so an unbracketed IPv6 literal
// ("::1:3306", Orchestrator's own form) and a bracketed one ("[::1]:3306")
// both work.
func ParseAddr(s string) (Addr, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return Addr{}, fmt.Errorf("%s is not host:port", quote(s))
	}
	host, port := s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
		if !strings.Contains(host, ":") {
			return Addr{}, fmt.Errorf("%s: only IPv6 literals go in brackets", quote(s))
		}
	}
	if err := ValidHost(host); err != nil {
		return Addr{}, fmt.Errorf("%s: %w", quote(s), err)
	}
	p, err := ParsePort(port)
	if err != nil {
		return Addr{}, fmt.Errorf("%s: %w", quote(s), err)
	}
	return Addr{Host: host, Port: p}, nil
}

// ParseAddrList reads Orchestrator's comma-separated instance list ("" is
// the empty list). Spaces around entries are dropped; repeated entries
// are kept once, in first-seen order.
func ParseAddrList(s string) ([]Addr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxListEntries {
		return nil, fmt.Errorf("%d entries (limit %d)", len(parts), maxListEntries)
	}
	var out []Addr
	seen := map[Addr]bool{}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		a, err := ParseAddr(p)
		if err != nil {
			return nil, err
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// ValidHost accepts an IP literal (IPv4, or IPv6 without a zone and
// without brackets) or a DNS name: 1 to 253 bytes of dot-separated labels
// of 1 to 63 letters, digits and inner hyphens, the last label not all
// digits, no trailing dot. Everything else (spaces, shell metacharacters,
// {placeholders}, control characters, underscores) is refused.
func ValidHost(s string) error {
	switch {
	case s == "":
		return errors.New("empty host")
	case len(s) > MaxHostLen:
		return fmt.Errorf("host is %d bytes long (limit %d)", len(s), MaxHostLen)
	}
	if strings.ContainsRune(s, ':') {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return fmt.Errorf("%s is neither an IP literal nor a host name", quote(s))
		}
		return nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return nil
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if !validLabel(l) {
			return fmt.Errorf("%s is neither an IP literal nor a host name", quote(s))
		}
	}
	if allDigits(labels[len(labels)-1]) {
		return fmt.Errorf("%s looks like an IPv4 address but is not one", quote(s))
	}
	return nil
}

func validLabel(l string) bool {
	if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ParsePort reads a TCP port: 1 to 65535 in decimal digits, no sign, no
// leading zero, no spaces.
func ParsePort(s string) (int, error) {
	p, err := parseDecimal(s, 65535)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("port %s is not a decimal number 1..65535", quote(s))
	}
	return p, nil
}

// ValidRecoveryUID accepts Orchestrator's recovery UID (nanoseconds, a
// colon and a hex digest): 1 to 128 of [A-Za-z0-9:._-].
func ValidRecoveryUID(s string) error {
	if s == "" || len(s) > MaxRecoveryUID {
		return fmt.Errorf("recovery UID must be 1 to %d bytes", MaxRecoveryUID)
	}
	for i := 0; i < len(s); i++ {
		if !uidByte(s[i]) {
			return fmt.Errorf("recovery UID %s has a byte outside [A-Za-z0-9:._-]", quote(s))
		}
	}
	return nil
}

func uidByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == ':' || c == '.' || c == '_' || c == '-'
}

// ValidAlias accepts a cluster alias: 1 to 64 bytes of printable UTF-8,
// no space (Orchestrator pastes {failureClusterAlias} unquoted into the
// hook's command line, where a space would shift every later argument), no
// '/' or '\', not "." or "..". The alias names locks, report files and
// Kafka topics through SafeName.
func ValidAlias(s string) error {
	switch {
	case s == "":
		return errors.New("empty cluster alias")
	case len(s) > MaxAliasLen:
		return fmt.Errorf("cluster alias is %d bytes long (limit %d)", len(s), MaxAliasLen)
	case s == "." || s == "..":
		return fmt.Errorf("cluster alias %s is not a name", quote(s))
	case strings.ContainsAny(s, `/\`):
		return fmt.Errorf("cluster alias %s contains a path separator", quote(s))
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return fmt.Errorf("cluster alias %s contains a space", quote(s))
	}
	return validText(s, MaxAliasLen)
}

// SafeName maps any string to a non-empty name of [A-Za-z0-9._-] that
// is safe as a file name, lock name or Kafka topic suffix, and distinct
// strings get distinct names: letters, digits, '-' and inner '.' stay,
// '_' becomes "__", every other byte (and a leading '.') becomes '_' and
// two lower-case hex digits. "" maps to "_". An alias of at most
// MaxAliasLen bytes gives at most 3*MaxAliasLen bytes.
func SafeName(s string) string {
	if s == "" {
		return "_"
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-':
			b.WriteByte(c)
		case c == '.' && i > 0:
			b.WriteByte(c)
		case c == '_':
			b.WriteString("__")
		default:
			b.WriteByte('_')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// ValidBinlogCoordinates accepts file:position, the file 1 to 255 of
// [A-Za-z0-9._-] and the position decimal.
func ValidBinlogCoordinates(s string) error {
	i := strings.LastIndexByte(s, ':')
	if i < 1 || i > maxBinlogFile {
		return fmt.Errorf("binlog coordinates %s are not file:position", quote(s))
	}
	for j := 0; j < i; j++ {
		if c := s[j]; c == ':' || !uidByte(c) {
			return fmt.Errorf("binlog coordinates %s: bad file name", quote(s))
		}
	}
	pos := s[i+1:]
	if !allDigits(pos) || len(pos) > 19 || (len(pos) > 1 && pos[0] == '0') {
		return fmt.Errorf("binlog coordinates %s: bad position", quote(s))
	}
	if _, err := strconv.ParseInt(pos, 10, 64); err != nil {
		return fmt.Errorf("binlog coordinates %s: bad position", quote(s))
	}
	return nil
}

// validText accepts printable UTF-8 (spaces allowed) of at most limit bytes.
func validText(s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%d bytes long (limit %d)", len(s), limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", quote(s))
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s contains a non-printable character", quote(s))
		}
	}
	return nil
}

// sanitizeText makes informational text safe to log: invalid UTF-8 and
// non-printable characters become '?', and it is cut to limit bytes on a
// character boundary.
func sanitizeText(s string, limit int) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "?") {
		if !unicode.IsPrint(r) {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > limit {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isToken reports whether s is 1..limit ASCII letters (lower: lower-case
// letters, digits and '-' instead), or empty when lower is set.
func isToken(s string, limit int, lower bool) bool {
	if len(s) > limit || (s == "" && !lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if lower {
			ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
		}
		if !ok {
			return false
		}
	}
	return true
}
