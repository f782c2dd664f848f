package streamer

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

const (
	orchUser     = "orc"
	orchPassword = "orc-secret"
)

// orchInstanceJSON is the shape of Orchestrator's inst.Instance as
// /api/master/{cluster} returns it (fields as in openark/orchestrator
// go/inst/instance.go; sql.NullInt64 marshals as {"Int64","Valid"}).
const orchInstanceJSON = `{
  "Key": {"Hostname": %q, "Port": %d},
  "InstanceAlias": "", "Uptime": 4242, "ServerID": %d, "ServerUUID": "",
  "Version": "10.11.6-MariaDB-log", "VersionComment": "Debian 12", "FlavorName": "MariaDB",
  "ReadOnly": %t, "Binlog_format": "ROW", "BinlogRowImage": "FULL",
  "LogBinEnabled": true, "LogSlaveUpdatesEnabled": true,
  "SelfBinlogCoordinates": {"LogFile": "mysql-bin.000002", "LogPos": 4242, "Type": 0},
  "MasterKey": {"Hostname": %q, "Port": %d},
  "IsDetachedMaster": false, "Slave_SQL_Running": false, "Slave_IO_Running": false,
  "HasReplicationFilters": false, "SupportsOracleGTID": false, "UsingOracleGTID": false,
  "UsingMariaDBGTID": true, "UsingPseudoGTID": false,
  "ReadBinlogCoordinates": {"LogFile": "", "LogPos": 0, "Type": 0},
  "ExecBinlogCoordinates": {"LogFile": "", "LogPos": 0, "Type": 0},
  "IsDetached": false, "RelaylogCoordinates": {"LogFile": "", "LogPos": 0, "Type": 1},
  "LastSQLError": "", "LastIOError": "",
  "SecondsBehindMaster": {"Int64": 0, "Valid": false}, "SQLDelay": 0,
  "ExecutedGtidSet": "", "GtidPurged": "",
  "SlaveLagSeconds": {"Int64": 0, "Valid": false},
  "SlaveHosts": [{"Hostname": "127.0.0.1", "Port": 3307}],
  "ClusterName": %q, "SuggestedClusterAlias": "test", "DataCenter": "", "PhysicalEnvironment": "",
  "ReplicationDepth": %d, "IsCoMaster": false, "HasReplicationCredentials": true,
  "ReplicationCredentialsAvailable": false, "SemiSyncEnforced": false,
  "LastSeenTimestamp": "2024-05-01 10:00:00", "IsLastCheckValid": %t, "IsUpToDate": true,
  "IsRecentlyChecked": true, "SecondsSinceLastSeen": {"Int64": 1, "Valid": true},
  "CountMySQLSnapshots": 0, "IsCandidate": false, "PromotionRule": "neutral",
  "IsDowntimed": false, "DowntimeReason": "", "DowntimeOwner": "", "DowntimeEndTimestamp": "",
  "UnresolvedHostname": "", "AllowTLS": false
}`

// orchServer is what the fake Orchestrator answers for /api/master/{alias}.
type orchServer struct {
	Host, MasterHost   string
	Port, MasterPort   int
	ServerID           uint32
	ReadOnly, Valid    bool
	Depth              int
	ClusterName, Alias string
}

func (o orchServer) json() string {
	return fmt.Sprintf(orchInstanceJSON, o.Host, o.Port, o.ServerID, o.ReadOnly, o.MasterHost,
		o.MasterPort, o.ClusterName, o.Depth, o.Valid)
}

// orchInstance describes a sandbox instance as Orchestrator would: at the
// top of the topology, or replicating from master.
func orchInstance(in *sandbox.Instance, readOnly bool, master *sandbox.Instance) orchServer {
	o := orchServer{Host: in.Host, Port: in.Port, ServerID: in.ServerID, ReadOnly: readOnly, Valid: true,
		ClusterName: in.Addr(), Alias: "test"}
	if master != nil {
		o.MasterHost, o.MasterPort, o.Depth = master.Host, master.Port, 1
	}
	return o
}

// fakeOrchestrator serves GET /api/master/{alias} on 127.0.0.1 with basic
// auth, like Orchestrator with HTTPAuthUser set; set changes its answer.
type fakeOrch struct {
	*httptest.Server
	mu  sync.Mutex
	ans orchServer
}

func (f *fakeOrch) set(o orchServer) {
	f.mu.Lock()
	f.ans = o
	f.mu.Unlock()
}

func fakeOrchestrator(t testing.TB, alias string, o orchServer) *fakeOrch {
	t.Helper()
	f := &fakeOrch{ans: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/master/{cluster}", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != orchUser || p != orchPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="Authorization Required"`)
			http.Error(w, "Not Authorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		if r.PathValue("cluster") != alias {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"Code":"ERROR","Message":"Unable to determine cluster name. clusterHint=` + r.PathValue("cluster") + `","Details":null}`))
			return
		}
		f.mu.Lock()
		body := f.ans.json()
		f.mu.Unlock()
		_, _ = w.Write([]byte(body))
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func TestOrchestratorInstanceMaster(t *testing.T) {
	top := orchServer{Host: "db2", Port: 3306, Valid: true}
	tests := []struct {
		name string
		mod  func(*orchServer)
		want string // "" means refused
	}{
		{"writable", func(*orchServer) {}, "db2:3306"},
		{"read-only at depth 0, no master: fenced", func(o *orchServer) { o.ReadOnly = true }, "db2:3306"},
		{"read-only replica", func(o *orchServer) { o.ReadOnly, o.MasterHost, o.MasterPort, o.Depth = true, "db1", 3306, 1 }, ""},
		{"read-only with a master at depth 0", func(o *orchServer) { o.ReadOnly, o.MasterHost, o.MasterPort = true, "db1", 3306 }, ""},
		{"writable co-master", func(o *orchServer) { o.MasterHost, o.MasterPort = "db1", 3306 }, "db2:3306"},
		{"failed last check", func(o *orchServer) { o.Valid = false }, ""},
		{"no address", func(o *orchServer) { o.Host = "" }, ""},
		{"bad port", func(o *orchServer) { o.Port = 70000 }, ""},
		{"ipv6", func(o *orchServer) { o.Host = "::1" }, "[::1]:3306"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := top
			tc.mod(&o)
			var inst OrchestratorInstance
			if err := json.Unmarshal([]byte(o.json()), &inst); err != nil {
				t.Fatal(err)
			}
			got, err := inst.Master()
			if got != tc.want || (tc.want == "") != (err != nil) {
				t.Errorf("Master() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestFetchOrchestratorMaster(t *testing.T) {
	f := fakeOrchestrator(t, "shop", orchServer{Host: "127.0.0.1", Port: 3306, ServerID: 7, Valid: true, ClusterName: "127.0.0.1:3306"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &http.Client{Timeout: 5 * time.Second}
	inst, err := FetchOrchestratorMaster(ctx, c, f.URL+"/", "shop", orchUser, orchPassword)
	if err != nil || inst.Key.Hostname != "127.0.0.1" || inst.Key.Port != 3306 || inst.ClusterName != "127.0.0.1:3306" || !inst.IsLastCheckValid {
		t.Fatalf("FetchOrchestratorMaster = %+v, %v", inst, err)
	}
	if _, err := FetchOrchestratorMaster(ctx, c, f.URL, "nosuch", orchUser, orchPassword); err == nil ||
		!strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "Unable to determine cluster name") {
		t.Errorf("unknown alias: err = %v, want Orchestrator's message", err)
	}
	if _, err := FetchOrchestratorMaster(ctx, c, f.URL, "shop", orchUser, "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad password: err = %v, want 401", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := FetchOrchestratorMaster(ctx, c, dead, "shop", "", ""); err == nil {
		t.Error("closed port: no error")
	}
}

// TestOrchestratorPollerRefuses: a poll that finds a read-only replica, or
// the current master, switches nothing; a bad URL is refused up front.
func TestOrchestratorPollerRefuses(t *testing.T) {
	s, err := New(Config{Cluster: "test", Flavor: repl.MariaDB, Master: "127.0.0.1:1", User: "u", ServerID: 9}, openStore(t, t.TempDir()), testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewOrchestratorPoller(s, OrchestratorConfig{URL: "ftp://x"}, nil); err == nil {
		t.Error("ftp URL accepted")
	}
	f := fakeOrchestrator(t, "test", orchServer{Host: "127.0.0.1", Port: 1, Valid: true})
	p, err := NewOrchestratorPoller(s, OrchestratorConfig{URL: f.URL, User: orchUser, Password: orchPassword}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Poll(ctx); err != nil {
		t.Errorf("Poll with the current master: %v", err)
	}
	f.set(orchServer{Host: "127.0.0.1", Port: 2, ReadOnly: true, MasterHost: "127.0.0.1", MasterPort: 1, Depth: 1, Valid: true})
	if err := p.Poll(ctx); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("Poll with a read-only replica: err = %v", err)
	}
	f.set(orchServer{Host: "127.0.0.1", Port: 2, Valid: true})
	if err := p.Poll(ctx); err == nil || !strings.Contains(err.Error(), ErrNotRunning.Error()) {
		t.Errorf("Poll while Run is not running: err = %v, want %v", err, ErrNotRunning)
	}
	if s.Status().Master != "127.0.0.1:1" {
		t.Errorf("master changed to %s", s.Status().Master)
	}
}
