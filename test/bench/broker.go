package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	kafkatest "github.com/recoup-dev/recoup/test/kafka"
)

// broker is a Kafka broker run by `kafka.sh run` (which execs the JVM), on
// free loopback ports with its data under the work directory.
type broker struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

func startBroker(ctx context.Context, script, dir string) (*broker, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the broker directory: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	b := &broker{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), exited: make(chan struct{}),
		log: filepath.Join(dir, "broker.log")}
	logf, err := os.Create(b.log)
	if err != nil {
		return nil, fmt.Errorf("creating the broker log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	b.cmd = exec.Command("bash", script, "run", "--data", dir, "--port", strconv.Itoa(ports[0]),
		"--controller-port", strconv.Itoa(ports[1]))
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig follows the forking thread: it must live as long as the broker.
		runtime.LockOSThread()
		if err := b.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = b.cmd.Wait()
		close(b.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting the Kafka broker: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	go func() {
		select {
		case <-b.exited:
			cancel()
		case <-rctx.Done():
		}
	}()
	if err := kafkatest.WaitReady(rctx, b.addr); err != nil {
		return nil, errors.Join(fmt.Errorf("Kafka broker %s not ready (log %s): %w", b.addr, b.log, err), b.stop())
	}
	return b, nil
}

// stop sends SIGTERM and waits up to 30s, then kills.
func (b *broker) stop() error {
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping the Kafka broker: %w", err)
	}
	select {
	case <-b.exited:
		return nil
	case <-time.After(30 * time.Second):
	}
	_ = b.cmd.Process.Kill() // fails only when it already exited
	<-b.exited
	return fmt.Errorf("the Kafka broker ignored SIGTERM for 30s and was killed (log %s)", b.log)
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
