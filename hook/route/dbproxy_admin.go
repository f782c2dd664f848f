package route

import (
	"database/sql"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// dbBackend is one row of DBProxy's "SELECT * FROM backends": columns
// backend_ndx, address, hostname, state, type, weight, tag,
// threads_running (Meituan DBProxy lib/admin.lua). backend_ndx is the
// 1-based position in the proxy's backend array: it changes after every
// add or remove, so it is only valid until the next command.
type dbBackend struct {
	Ndx    int
	Raw    string         // address as DBProxy shows it
	Addr   netip.AddrPort // parsed Raw; invalid when Raw is not ip:port
	State  string         // unknown, up, pending, down, offlining, offline, removing
	Type   string         // rw or ro
	Weight int
	Tag    string
}

// DBProxy backend states (lower case, as the admin interface shows them).
// "Online" is the set unknown/up/pending/down: SET ONLINE puts a backend in
// "unknown" and the state checker moves it to up or down.
const (
	dbpUp        = "up"
	dbpOfflining = "offlining"
	dbpOffline   = "offline"
	dbpRemoving  = "removing"
)

func (b dbBackend) online() bool {
	switch b.State {
	case dbpOfflining, dbpOffline, dbpRemoving:
		return false
	}
	return true
}

func (b dbBackend) backend() Backend {
	return Backend{
		Addr:    normalizeReported(b.Raw),
		Status:  b.State,
		Enabled: b.online(),
		Up:      b.State == dbpUp,
		Name:    "backend_ndx " + strconv.Itoa(b.Ndx),
	}
}

// parseDBProxyBackends turns the result of "SELECT * FROM backends" into
// backends. Unknown types and states are kept as reported; a missing or
// non-numeric backend_ndx is an error.
func parseDBProxyBackends(cols []string, rows [][]sql.NullString) ([]dbBackend, error) {
	idx, err := columnIndex(cols, "backend_ndx", "address", "state", "type")
	if err != nil {
		return nil, fmt.Errorf("DBProxy backends: %w", err)
	}
	get := func(row []sql.NullString, col string) string {
		if i, ok := idx[col]; ok && i < len(row) && row[i].Valid {
			return strings.TrimSpace(row[i].String)
		}
		return ""
	}
	out := make([]dbBackend, 0, len(rows))
	for _, row := range rows {
		b := dbBackend{
			Raw:   get(row, "address"),
			State: strings.ToLower(get(row, "state")),
			Type:  strings.ToLower(get(row, "type")),
			Tag:   get(row, "tag"),
		}
		n, err := strconv.Atoi(get(row, "backend_ndx"))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("DBProxy backends: invalid backend_ndx %q", get(row, "backend_ndx"))
		}
		b.Ndx = n
		if w, err := strconv.Atoi(get(row, "weight")); err == nil {
			b.Weight = w
		}
		if ap, err := netip.ParseAddrPort(b.Raw); err == nil {
			b.Addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		out = append(out, b)
	}
	return out, nil
}

// findBackend returns the backend of type typ at ap.
func findBackend(list []dbBackend, typ string, ap netip.AddrPort) (dbBackend, bool) {
	for _, b := range list {
		if b.Type == typ && b.Addr == ap {
			return b, true
		}
	}
	return dbBackend{}, false
}

// DBProxy admin commands. The admin interface matches each command with an
// anchored Lua pattern on the lower-cased text, so no trailing semicolon
// or space; ADD MASTER/SLAVE take IPv4 dotted quads only. Values come from
// netip.AddrPort and ints, never from text.

func dbpSetOffline(ndx, timeoutSec int) string {
	if timeoutSec > 0 {
		return fmt.Sprintf("SET OFFLINE %d TIMEOUT %d", ndx, timeoutSec)
	}
	return fmt.Sprintf("SET OFFLINE %d", ndx)
}

func dbpSetOnline(ndx int) string { return fmt.Sprintf("SET ONLINE %d", ndx) }

func dbpRemove(ndx, timeoutSec int) string {
	if timeoutSec > 0 {
		return fmt.Sprintf("REMOVE BACKEND %d TIMEOUT %d", ndx, timeoutSec)
	}
	return fmt.Sprintf("REMOVE BACKEND %d", ndx)
}

func dbpAddMaster(ap netip.AddrPort) (string, error) {
	if !ap.Addr().Is4() || ap.Port() == 0 {
		return "", fmt.Errorf("DBProxy takes IPv4 ip:port only, not %s", ap)
	}
	return "ADD MASTER " + ap.String(), nil
}

// dbpTag is what DBProxy keeps of a slave tag: it lower-cases the command.
var dbpTag = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

func dbpAddSlave(ap netip.AddrPort, tag string, weight int) (string, error) {
	if !ap.Addr().Is4() || ap.Port() == 0 {
		return "", fmt.Errorf("DBProxy takes IPv4 ip:port only, not %s", ap)
	}
	cmd := "ADD SLAVE " + ap.String()
	if tag != "" {
		if !dbpTag.MatchString(tag) {
			return "", fmt.Errorf("invalid DBProxy reader tag %q (lower-case letters, digits, _)", tag)
		}
		cmd += "$" + tag
	}
	if weight > 0 {
		cmd += "@" + strconv.Itoa(weight)
	}
	return cmd, nil
}

const dbpSaveConfig = "SAVE CONFIG"

const dbpListBackends = "SELECT * FROM backends"
