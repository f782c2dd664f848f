package e2e

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/hook/route"
	"github.com/recoup-dev/recoup/test/haproxytest"
)

// blackhole is a loopback listener that accepts connections and never
// answers: a capture store that hangs.
func blackhole(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// TestHookDeadlinePolicies: the capture log hangs (a Kafka "broker" that
// never answers), so compensation cannot finish within the deadline. With
// stay-fenced the new master stays read-only and the proxy has no writer;
// with open-writes, writes open on the new master through the proxy. Both
// exit non-zero, within the deadline plus the grace period.
func TestHookDeadlinePolicies(t *testing.T) {
	bin := buildRecoup(t)
	for _, policy := range []string{"stay-fenced", "open-writes"} {
		t.Run(policy, func(t *testing.T) {
			r := newRig(t, false, bin)
			r.kafka, r.topic = blackhole(t), "recoup.blackhole."
			r.budget = "  deadline: 1500ms\n  grace: 3s\n  capture_wait: 300ms\n  on_deadline: " + policy + "\n"
			r.writeConfig()
			if err := r.old.Kill(); err != nil {
				t.Fatal(err)
			}
			rec := Recovery{Failed: r.old.Addr(), Alias: cluster, UID: "1:" + policy,
				Replicas: []string{r.topo.Replicas[0].Addr(), r.topo.Replicas[1].Addr()}}
			nm := r.promote(&rec)
			args, env, err := r.fx.Post(rec)
			if err != nil {
				t.Fatal(err)
			}
			run := r.runHook(args, env)
			t.Logf("stdout:\n%s", run.stdout)
			if run.code == 0 || run.wall > 1500*time.Millisecond+3*time.Second+time.Second {
				t.Fatalf("exit %d after %s; want non-zero within deadline+grace\n%s", run.code, run.wall, run.stderr)
			}
			ro, err := nm.Variable(t.Context(), "read_only")
			if err != nil {
				t.Fatal(err)
			}
			writer := r.proxyWriter(t.Context(), nm.Addr())
			switch policy {
			case "stay-fenced":
				if !strings.Contains(run.stdout, "STAY-FENCED") || !strings.Contains(run.stdout, "LEFT TO DO") ||
					(ro != "1" && ro != "ON") || writer != "none" {
					t.Errorf("stay-fenced: read_only=%s, proxy writer %s", ro, writer)
				}
			case "open-writes":
				if !strings.Contains(run.stdout, "OPEN-WRITES-UNCOMPENSATED") || (ro != "0" && ro != "OFF") || writer != "new master" {
					t.Errorf("open-writes: read_only=%s, proxy writer %s", ro, writer)
				}
			}
		})
	}
}

// proxyWriter says where HAProxy routes writes: "none", "new master" or
// the state.
func (r *rig) proxyWriter(ctx context.Context, newMaster string) string {
	h, err := route.NewHAProxy(route.HAProxyConfig{Socket: r.hp.SocketPath, WriterBackend: haproxytest.WriterBackend,
		ReaderBackend: haproxytest.ReaderBackend}, quietLogger())
	if err != nil {
		r.t.Fatal(err)
	}
	st, err := h.State(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	switch w := st.EnabledWriters(); {
	case len(w) == 0:
		return "none"
	case len(w) == 1 && w[0].Addr == newMaster:
		return "new master"
	}
	return st.String()
}
