package route

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// fakeDBProxy is DBProxy's admin interface as Meituan DBProxy's
// lib/admin.lua and src/network-backend*.c implement it, reduced to the
// backend commands:
//
//   - commands are matched with anchored patterns on the lower-cased text:
//     no trailing semicolon or space is accepted;
//   - "SELECT * FROM backends" lists backend_ndx (1-based position),
//     address, hostname, state, type, weight, tag, threads_running;
//   - ADD MASTER / ADD SLAVE take dotted-quad IPv4 ip:port only; a
//     duplicate (same type and address) is silently ignored with success;
//     an added master is appended then swapped with the first slave, so
//     indexes shift; a second read-write backend is refused unless every
//     existing one is offline (the rule of the original deployment);
//   - SET OFFLINE moves an online backend to "offlining", then "offline";
//     SET ONLINE moves an offline one to "unknown", then "up"; both are
//     silent no-ops in the states where DBProxy ignores them;
//   - REMOVE BACKEND moves a backend to "removing"; it disappears later.
//
// "Later" is: after the next SELECT * FROM backends (unless stuck).
type fakeDBProxy struct {
	*fakeAdminServer
	mu       sync.Mutex
	backends []*fakeBackend
	commands []string   // every statement received, as sent
	saves    [][]string // backend lists at each SAVE CONFIG
	// stuckOfflining keeps backends in "offlining" (a transaction that never
	// ends); ignoreAdds makes ADD report success without adding.
	stuckOfflining, ignoreAdds bool
}

type fakeBackend struct {
	addr, typ, state, tag string
	weight                int
	next                  string // state after the next list ("gone": removed)
}

func startFakeDBProxy(t testing.TB, backends ...fakeBackend) *fakeDBProxy {
	f := &fakeDBProxy{}
	for _, b := range backends {
		f.backends = append(f.backends, &b)
	}
	f.fakeAdminServer = startFakeAdmin(t, "5.0.99-agent-admin", f.handle)
	return f
}

var (
	dbfList    = regexp.MustCompile(`^select\s+\*\s+from\s+backends$`)
	dbfSetAny  = regexp.MustCompile(`^set\s+[a-z]+\s+\d+`)
	dbfSet     = regexp.MustCompile(`^set\s+([a-z]+)\s+(\d+)(?:\s+timeout\s+(\d+))?$`)
	dbfMaster  = regexp.MustCompile(`^add\s+master\s+(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5})$`)
	dbfSlave   = regexp.MustCompile(`^add\s+slave\s+(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5})(\$[a-z0-9_]+)?(@\d+)?$`)
	dbfRemove  = regexp.MustCompile(`^remove\s+backend\s+(\d+)(?:\s+timeout\s+(\d+))?$`)
	dbfSave    = regexp.MustCompile(`^save\s+config+$`)
	dbfOffline = map[string]bool{"offlining": true, "offline": true, "removing": true}
)

func (f *fakeDBProxy) handle(query string) (*mysql.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, query)
	q := strings.ToLower(query)
	switch {
	case dbfList.MatchString(q):
		return f.list()
	case dbfSetAny.MatchString(q):
		return f.set(q)
	case dbfMaster.MatchString(q):
		return f.add(dbfMaster.FindStringSubmatch(q)[1], "rw", "", 0)
	case dbfSlave.MatchString(q):
		m := dbfSlave.FindStringSubmatch(q)
		w, _ := strconv.Atoi(strings.TrimPrefix(m[3], "@"))
		return f.add(m[1], "ro", strings.TrimPrefix(m[2], "$"), max(w, 1))
	case dbfRemove.MatchString(q):
		return f.remove(dbfRemove.FindStringSubmatch(q)[1])
	case dbfSave.MatchString(q):
		f.saves = append(f.saves, f.summaryLocked())
		return statusOK()
	}
	return nil, adminError("use 'SELECT * FROM help' to see the supported commands")
}

func statusOK() (*mysql.Result, error) { return resultset([]string{"status"}, nil) }

func (f *fakeDBProxy) list() (*mysql.Result, error) {
	rows := make([][]any, 0, len(f.backends))
	for i, b := range f.backends {
		var tag any
		if b.tag != "" {
			tag = b.tag
		}
		rows = append(rows, []any{int64(i + 1), b.addr, "", b.state, b.typ, strconv.Itoa(b.weight), tag, "0"})
	}
	res, err := resultset([]string{"backend_ndx", "address", "hostname", "state", "type", "weight", "tag", "threads_running"}, rows)
	kept := f.backends[:0]
	for _, b := range f.backends {
		switch {
		case b.next == "gone":
			continue
		case b.next == "offline" && f.stuckOfflining:
		case b.next != "":
			b.state, b.next = b.next, ""
		}
		kept = append(kept, b)
	}
	f.backends = kept
	return res, err
}

func (f *fakeDBProxy) backend(ndx string) (*fakeBackend, bool) {
	n, err := strconv.Atoi(ndx)
	if err != nil || n < 1 || n > len(f.backends) {
		return nil, false
	}
	return f.backends[n-1], true
}

func (f *fakeDBProxy) set(q string) (*mysql.Result, error) {
	m := dbfSet.FindStringSubmatch(q)
	if m == nil {
		return nil, adminError("invalid operation")
	}
	b, ok := f.backend(m[2])
	if !ok {
		return nil, adminError("backend id is not exsit")
	}
	switch m[1] {
	case "offline":
		if !dbfOffline[b.state] {
			b.state, b.next = "offlining", "offline"
		}
	case "online":
		if b.state == "offline" {
			b.state, b.next = "unknown", "up"
		}
	default:
		return nil, adminError("invalid operation")
	}
	return statusOK()
}

func (f *fakeDBProxy) add(addr, typ, tag string, weight int) (*mysql.Result, error) {
	for _, b := range f.backends {
		if b.typ == typ && b.addr == addr {
			return statusOK() // DBProxy logs "already known" and still answers OK
		}
		if typ == "rw" && b.typ == "rw" && b.state != "offline" {
			return nil, adminError(fmt.Sprintf("add master %s failed: read-write backend %s is %s", addr, b.addr, b.state))
		}
	}
	if f.ignoreAdds {
		return statusOK()
	}
	nb := &fakeBackend{addr: addr, typ: typ, state: "unknown", next: "up", tag: tag, weight: weight}
	f.backends = append(f.backends, nb)
	if typ == "rw" {
		for i, b := range f.backends {
			if b.typ == "ro" {
				last := len(f.backends) - 1
				f.backends[i], f.backends[last] = f.backends[last], f.backends[i]
				break
			}
		}
	}
	return statusOK()
}

func (f *fakeDBProxy) remove(ndx string) (*mysql.Result, error) {
	b, ok := f.backend(ndx)
	if !ok {
		return nil, adminError("invalid backend_id")
	}
	b.state, b.next = "removing", "gone"
	return statusOK()
}

// summary lists the backends as "type addr state".
func (f *fakeDBProxy) summary() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.summaryLocked()
}

func (f *fakeDBProxy) summaryLocked() []string {
	var out []string
	for _, b := range f.backends {
		out = append(out, b.typ+" "+b.addr+" "+b.state)
	}
	return out
}

// takeCommands returns the commands received since the last call, without
// the list reads.
func (f *fakeDBProxy) takeCommands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.commands {
		if !dbfList.MatchString(strings.ToLower(c)) {
			out = append(out, c)
		}
	}
	f.commands = nil
	return out
}
