package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// EnvAddr names the environment variable that points the shared broker at an
// already running broker (for example one started by kafka.sh start).
const EnvAddr = "RECOUP_KAFKA_ADDR"

// startTimeout bounds one broker start, JVM start and readiness probe included.
const startTimeout = 90 * time.Second

// Server is a Kafka broker listening on 127.0.0.1. A Server started by this
// package owns its java process; one named by RECOUP_KAFKA_ADDR is external
// and cannot be stopped or restarted.
type Server struct {
	addr string
	proc *process // nil for an external broker
}

// shared is the broker of the whole test binary (see the package doc).
var shared struct {
	once   sync.Once
	broker *Server
	err    error
}

// Main runs the tests of m, stops the shared broker if one was started, removes
// its data directory and exits with the tests' exit code. Call it from TestMain:
//
//	func TestMain(m *testing.M) { kafkatest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if b := shared.broker; b != nil && b.proc != nil {
		if err := b.proc.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "kafkatest: stopping shared broker: %v\n", err)
		}
		if err := os.RemoveAll(b.proc.dataDir); err != nil {
			fmt.Fprintf(os.Stderr, "kafkatest: removing %s: %v\n", b.proc.dataDir, err)
		}
	}
	os.Exit(code)
}

// Broker returns the broker shared by all tests of this binary, starting it on
// first use. With RECOUP_KAFKA_ADDR set it uses that broker instead. It fails
// the test when no broker can be had.
func Broker(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() { shared.broker, shared.err = startShared() })
	if shared.err != nil {
		t.Fatalf("kafkatest: shared broker: %v", shared.err)
	}
	return shared.broker
}

func startShared() (*Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if addr := os.Getenv(EnvAddr); addr != "" {
		if err := checkLoopback(addr); err != nil {
			return nil, fmt.Errorf("%s=%q: %w", EnvAddr, addr, err)
		}
		if err := WaitReady(ctx, addr); err != nil {
			return nil, fmt.Errorf("using %s=%s: %w", EnvAddr, addr, err)
		}
		return &Server{addr: addr}, nil
	}
	dir, err := os.MkdirTemp("", "recoup-kafka-")
	if err != nil {
		return nil, fmt.Errorf("creating broker data dir: %w", err)
	}
	p, err := launch(ctx, dir)
	if err != nil {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			return nil, fmt.Errorf("%w (and removing %s: %v)", err, dir, rmErr)
		}
		return nil, err
	}
	return &Server{addr: p.addr(), proc: p}, nil
}

// NewBroker starts a broker private to t on free ports with a data directory
// under t.TempDir, and stops it when t ends. It ignores RECOUP_KAFKA_ADDR:
// use it for tests that stop or restart the broker.
func NewBroker(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	p, err := launch(ctx, dir)
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("kafkatest: stopping broker %s: %v", p.addr(), err)
		}
	})
	return &Server{addr: p.addr(), proc: p}
}

// Addr returns the bootstrap address, "127.0.0.1:PORT".
func (b *Server) Addr() string { return b.addr }

// Stop stops the broker (SIGTERM, then SIGKILL after 30s). The address stays
// reserved for Start.
func (b *Server) Stop(t testing.TB) {
	t.Helper()
	b.mustOwn(t, "Stop")
	if err := b.proc.stop(); err != nil {
		t.Fatalf("kafkatest: stopping broker %s: %v", b.addr, err)
	}
}

// Start starts a stopped broker again on the same ports and data directory and
// waits until a produce with acks=all succeeds.
func (b *Server) Start(t testing.TB) {
	t.Helper()
	b.mustOwn(t, "Start")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := b.proc.start(ctx); err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
}

// Restart stops the broker and starts it again on the same ports and data
// directory. Tests sharing the broker see it go away: prefer NewBroker.
func (b *Server) Restart(t testing.TB) {
	t.Helper()
	b.Stop(t)
	b.Start(t)
}

func (b *Server) mustOwn(t testing.TB, op string) {
	t.Helper()
	if b.proc == nil {
		t.Fatalf("kafkatest: %s: broker %s comes from %s and is not owned by this test; use kafkatest.NewBroker(t)", op, b.addr, EnvAddr)
	}
}

// checkLoopback refuses any address whose host is not a loopback address:
// tests talk to servers on this machine only.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("parsing address: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("host %q is not a loopback address", host)
	}
	return nil
}
