package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// StateFile and PasswordFile are the names WriteState uses in its directory.
const (
	StateFile    = "sandbox.json"
	PasswordFile = "password"
)

// State describes a running topology for another process (sandboxctl
// down/status, make demo). It holds no password: that is in PasswordFile
// (mode 0600) next to it.
type State struct {
	Dir       string          `json:"dir"`
	User      string          `json:"user"`
	Primary   string          `json:"primary"` // instance name
	Instances []InstanceState `json:"instances"`
}

// InstanceState is one server of a State.
type InstanceState struct {
	Name     string   `json:"name"`
	Role     string   `json:"role"` // "primary", "replica" or "former"
	Host     string   `json:"host"`
	Port     int      `json:"port"`
	ServerID uint32   `json:"server_id"`
	PID      int      `json:"pid"`
	Dir      string   `json:"dir"`
	DataDir  string   `json:"datadir"`
	Socket   string   `json:"socket"`
	Args     []string `json:"args"`
}

// State snapshots the topology.
func (t *Topology) State() State {
	s := State{Dir: t.Dir, User: t.User, Primary: t.Primary.Name}
	add := func(role string, ins []*Instance) {
		for _, in := range ins {
			s.Instances = append(s.Instances, InstanceState{
				Name: in.Name, Role: role, Host: in.Host, Port: in.Port, ServerID: in.ServerID,
				PID: in.PID(), Dir: in.Dir, DataDir: in.DataDir, Socket: in.Socket, Args: in.Args(),
			})
		}
	}
	add("primary", []*Instance{t.Primary})
	add("replica", t.Replicas)
	add("former", t.Former)
	return s
}

// WriteState writes StateFile and PasswordFile (0600) into dir.
func (t *Topology) WriteState(dir string) error {
	b, err := json.MarshalIndent(t.State(), "", "  ")
	if err != nil {
		return fmt.Errorf("encoding sandbox state: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, PasswordFile), []byte(t.Password+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing sandbox password file: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, StateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing sandbox state: %w", err)
	}
	return nil
}

// ReadState reads the StateFile in dir.
func ReadState(dir string) (State, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return State{}, fmt.Errorf("reading sandbox state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("decoding sandbox state %s: %w", filepath.Join(dir, StateFile), err)
	}
	return s, nil
}

// Attach opens a topology another process launched and described with
// WriteState in dir. Its Close only closes connection pools; use Down to
// stop the servers. Instance methods Stop, Kill and Start work on it.
func Attach(dir string, log *slog.Logger) (*Topology, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := ReadState(dir)
	if err != nil {
		return nil, err
	}
	pw, err := os.ReadFile(filepath.Join(dir, PasswordFile))
	if err != nil {
		return nil, fmt.Errorf("reading sandbox password: %w", err)
	}
	bins, err := findBinaries()
	if err != nil {
		return nil, err
	}
	t := &Topology{Dir: s.Dir, User: s.User, Password: string(bytes.TrimSpace(pw)), log: log}
	for i, is := range s.Instances {
		in := &Instance{
			Index: i, Name: is.Name, ServerID: is.ServerID, Host: is.Host, Port: is.Port,
			User: t.User, Password: t.Password, Dir: is.Dir, DataDir: is.DataDir, Socket: is.Socket,
			bin: bins.mariadbd, args: is.Args, detach: true, startTimeout: time.Minute,
			log: log.With("cluster", "sandbox", "instance", is.Name),
		}
		in.proc = &process{pid: livePID(in, is.PID)}
		t.all = append(t.all, in)
		switch is.Role {
		case "primary":
			t.Primary = in
		case "replica":
			t.Replicas = append(t.Replicas, in)
		default:
			t.Former = append(t.Former, in)
		}
	}
	if t.Primary == nil {
		return nil, fmt.Errorf("sandbox state in %s has no primary", dir)
	}
	return t, nil
}

// livePID returns the pid serving the instance's datadir, from its pid
// file or else the recorded one, or 0 when neither is alive.
func livePID(in *Instance, recorded int) int {
	if b, err := os.ReadFile(in.PIDFile()); err == nil {
		if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && pidAlive(pid) && isOurServer(pid, in.DataDir) {
			return pid
		}
	}
	if pidAlive(recorded) && isOurServer(recorded, in.DataDir) {
		return recorded
	}
	return 0
}

// Down kills the servers described in dir's state (verifying each pid
// still runs that datadir), removes their directories and the state and
// password files.
func Down(ctx context.Context, dir string) error {
	t, err := Attach(dir, nil)
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range t.Instances() {
		errs = append(errs, in.killWithin(ctx), in.closePool(), removeDir(in.Dir))
	}
	for _, f := range []string{StateFile, PasswordFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing %s: %w", f, err))
		}
	}
	return errors.Join(errs...)
}
