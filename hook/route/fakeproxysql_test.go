package route

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// fakeProxySQL is ProxySQL's admin interface reduced to the statements
// the router sends: a mysql_servers table (configuration), its runtime
// copy (LOAD ... TO RUNTIME) and disk copy (SAVE ... TO DISK), and
// mysql_replication_hostgroups. Any other statement is an error. Servers
// in down are SHUNNED at runtime, as ProxySQL's monitor would make them.
type fakeProxySQL struct {
	*fakeAdminServer
	mu                    sync.Mutex
	config, runtime, disk []psRow
	replHostgroups        [][2]int
	down                  map[string]bool // "host:port"
	statements            []string
}

type psRow struct {
	hg     int
	host   string
	port   int
	status string
}

func (r psRow) addr() string { return hostPort(r.host, uint16(r.port)) }

func startFakeProxySQL(t testing.TB, rows ...psRow) *fakeProxySQL {
	f := &fakeProxySQL{config: rows, down: map[string]bool{}}
	f.load()
	f.fakeAdminServer = startFakeAdmin(t, "5.5.30 (ProxySQL Admin Module)", f.handle)
	return f
}

var (
	psfFence  = regexp.MustCompile(`^UPDATE mysql_servers SET status='OFFLINE_HARD' WHERE hostgroup_id=(\d+)$`)
	psfDelete = regexp.MustCompile(`^DELETE FROM mysql_servers WHERE hostgroup_id=(\d+)$`)
	psfInsert = regexp.MustCompile(`^INSERT INTO mysql_servers \(hostgroup_id, hostname, port, status\) VALUES \((\d+), '([0-9a-fA-F.:]+)', (\d+), 'ONLINE'\)$`)
)

func (f *fakeProxySQL) handle(q string) (*mysql.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statements = append(f.statements, q)
	switch {
	case q == psqlRuntimeServers:
		rows := make([][]any, 0, len(f.runtime))
		for _, r := range f.runtime {
			rows = append(rows, []any{strconv.Itoa(r.hg), r.host, strconv.Itoa(r.port), r.status})
		}
		return resultset([]string{"hostgroup_id", "hostname", "port", "status"}, rows)
	case q == psqlReplHostgroups:
		rows := make([][]any, 0, len(f.replHostgroups))
		for _, r := range f.replHostgroups {
			rows = append(rows, []any{strconv.Itoa(r[0]), strconv.Itoa(r[1])})
		}
		return resultset([]string{"writer_hostgroup", "reader_hostgroup"}, rows)
	case q == psqlLoad:
		f.load()
	case q == psqlSave:
		f.disk = slices.Clone(f.config)
	case psfFence.MatchString(q):
		hg, _ := strconv.Atoi(psfFence.FindStringSubmatch(q)[1])
		for i := range f.config {
			if f.config[i].hg == hg {
				f.config[i].status = "OFFLINE_HARD"
			}
		}
	case psfDelete.MatchString(q):
		hg, _ := strconv.Atoi(psfDelete.FindStringSubmatch(q)[1])
		f.config = slices.DeleteFunc(f.config, func(r psRow) bool { return r.hg == hg })
	case psfInsert.MatchString(q):
		return f.insert(psfInsert.FindStringSubmatch(q))
	default:
		return nil, adminError(fmt.Sprintf("near %q: syntax error", q))
	}
	return nil, nil // OK packet
}

func (f *fakeProxySQL) insert(m []string) (*mysql.Result, error) {
	hg, _ := strconv.Atoi(m[1])
	port, _ := strconv.Atoi(m[3])
	row := psRow{hg: hg, host: m[2], port: port, status: "ONLINE"}
	for _, r := range f.config {
		if r.hg == row.hg && r.host == row.host && r.port == row.port {
			return nil, adminError("UNIQUE constraint failed: mysql_servers.hostgroup_id, mysql_servers.hostname, mysql_servers.port")
		}
	}
	f.config = append(f.config, row)
	return nil, nil
}

func (f *fakeProxySQL) load() {
	f.runtime = slices.Clone(f.config)
	for i, r := range f.runtime {
		if r.status == "ONLINE" && f.down[r.addr()] {
			f.runtime[i].status = "SHUNNED"
		}
	}
}

func (f *fakeProxySQL) snapshot() (config, runtime, disk []psRow) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.config), slices.Clone(f.runtime), slices.Clone(f.disk)
}
