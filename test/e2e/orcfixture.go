package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// FixturePath is the copy, in the hook package, of what a real
// Orchestrator 3.2.6 passed to its hooks in a MariaDB failover.
const FixturePath = "hook/testdata/orchestrator-3.2.6-hook-input.txt"

// Fixture is the parsed Orchestrator fixture: the PostFailoverProcesses
// arguments and environment, and what PreFailoverProcesses of the same
// recovery differed in.
type Fixture struct {
	PostArgs []string
	PostEnv  map[string]string
	preArgs  map[int]string
	preEnv   map[string]string
}

var (
	fixtureArg = regexp.MustCompile(`^arg\[(\d+)\]=<(.*)>$`)
	fixtureEnv = regexp.MustCompile(`^(ORC_[A-Z_]+)=(.*)$`)
)

// LoadFixture parses the fixture file.
func LoadFixture(path string) (*Fixture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the Orchestrator fixture: %w", err)
	}
	defer f.Close()
	fx := &Fixture{PostEnv: map[string]string{}, preArgs: map[int]string{}, preEnv: map[string]string{}}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			section = line
			continue
		}
		post := strings.Contains(section, "PostFailoverProcesses")
		pre := strings.Contains(section, "PreFailoverProcesses")
		if m := fixtureArg.FindStringSubmatch(line); m != nil {
			i, _ := strconv.Atoi(m[1])
			switch {
			case post && i == len(fx.PostArgs):
				fx.PostArgs = append(fx.PostArgs, m[2])
			case post:
				return nil, fmt.Errorf("fixture: arg[%d] out of order", i)
			case pre:
				fx.preArgs[i] = m[2]
			}
		} else if m := fixtureEnv.FindStringSubmatch(line); m != nil {
			switch {
			case post:
				fx.PostEnv[m[1]] = m[2]
			case pre:
				fx.preEnv[m[1]] = m[2]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the Orchestrator fixture: %w", err)
	}
	if len(fx.PostArgs) != 29 || len(fx.PostEnv) < 20 || len(fx.preArgs) == 0 {
		return nil, fmt.Errorf("fixture not understood: %d post args, %d post variables, %d pre args",
			len(fx.PostArgs), len(fx.PostEnv), len(fx.preArgs))
	}
	return fx, nil
}

// Recovery is one failover of a test topology, in Orchestrator's terms.
type Recovery struct {
	Failed    string   // host:port of the dead master
	Successor string   // host:port of the promoted replica
	Replicas  []string // the failed master's replicas, successor included
	Alias     string   // cluster alias (recoup's cluster name)
	UID       string   // recovery UID
	// SuccessorCoordinates is the successor's binlog file:position.
	SuccessorCoordinates string
}

// Positions of the layout (hook/input.go) that Orchestrator fills from
// the topology.
const (
	argFailedHost = 7
	argFailedPort = 8
	argCluster    = 9
	argAlias      = 10
	argDomain     = 11
	argCount      = 12
	argCountSlave = 13
	argUID        = 18
	argSuccHost   = 20
	argSuccPort   = 21
	argSuccCoords = 22
	argReplicas   = 27
	argSlaves     = 28
)

// Post is the PostFailoverProcesses invocation of r: the fixture's
// arguments and ORC_* environment ("K=V") with this topology's values.
func (fx *Fixture) Post(r Recovery) (args, env []string, err error) {
	if r.Successor == "" {
		return nil, nil, errors.New("post-failover invocation without a successor")
	}
	return fx.render(r)
}

// render substitutes r's values into the post hook's invocation; an
// empty Successor leaves the fixture's successor values.
func (fx *Fixture) render(r Recovery) (args, env []string, err error) {
	fh, fp, err := net.SplitHostPort(r.Failed)
	if err != nil {
		return nil, nil, fmt.Errorf("failed master: %w", err)
	}
	args = slices.Clone(fx.PostArgs)
	vars := maps.Clone(fx.PostEnv)
	replicas := strings.Join(r.Replicas, ",")
	count := strconv.Itoa(len(r.Replicas))
	set := func(i int, key, v string) {
		args[i] = v
		if key != "" {
			vars[key] = v
		}
	}
	set(argFailedHost, "ORC_FAILED_HOST", fh)
	set(argFailedPort, "ORC_FAILED_PORT", fp)
	set(argCluster, "ORC_FAILURE_CLUSTER", r.Failed)
	set(argAlias, "ORC_FAILURE_CLUSTER_ALIAS", r.Alias)
	set(argDomain, "ORC_FAILURE_CLUSTER_DOMAIN", r.Alias)
	set(argCount, "ORC_COUNT_REPLICAS", count)
	set(argCountSlave, "", count)
	set(argUID, "ORC_RECOVERY_UID", r.UID)
	if r.Successor != "" {
		sh, sp, err := net.SplitHostPort(r.Successor)
		if err != nil {
			return nil, nil, fmt.Errorf("successor: %w", err)
		}
		set(argSuccHost, "ORC_SUCCESSOR_HOST", sh)
		set(argSuccPort, "ORC_SUCCESSOR_PORT", sp)
		set(argSuccCoords, "ORC_SUCCESSOR_BINLOG_COORDINATES", r.SuccessorCoordinates)
	}
	set(argReplicas, "ORC_REPLICA_HOSTS", replicas)
	set(argSlaves, "", replicas)
	return args, envList(vars), nil
}

// Pre is the PreFailoverProcesses invocation of the same recovery: no
// successor yet, its placeholders left as literal text, no ORC_SUCCESSOR_*
// variable.
func (fx *Fixture) Pre(r Recovery) (args, env []string, err error) {
	args, postEnv, err := fx.render(r)
	if err != nil {
		return nil, nil, err
	}
	args[0] = "PreFailoverProcesses"
	for i, v := range fx.preArgs {
		args[i] = v
	}
	vars := map[string]string{}
	for _, kv := range postEnv {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "ORC_SUCCESSOR_") {
			vars[k] = v
		}
	}
	maps.Copy(vars, fx.preEnv)
	return args, envList(vars), nil
}

func envList(vars map[string]string) []string {
	keys := slices.Sorted(maps.Keys(vars))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+vars[k])
	}
	return out
}
