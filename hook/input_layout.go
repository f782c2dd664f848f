package hook

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// field is one position of the hook command line.
type field struct {
	// Name is the Orchestrator placeholder without braces.
	Name string
	// Env is the ORC_* variable carrying the same value ("" for none).
	Env string
	// DuplicateOf is, for a legacy duplicate ({countSlaves},
	// {lostSlaves}, {slaveHosts}), the position it repeats; else 0.
	DuplicateOf int
	// Quoted: the placeholder is double-quoted in the configured command
	// line because its value may be empty or contain spaces.
	Quoted bool

	kind valueKind
	set  func(in *Input, v string) error
}

type valueKind int

const (
	kindText valueKind = iota
	kindList           // comma-separated host:port list, compared as a set
)

// layout is the positional argument layout recoup expects, index 0 being
// the hook name (see the package documentation and
// deploy/orchestrator.conf.json). Its order is the one of
// testdata/orchestrator-3.2.6-hook-input.txt.
var layout = [ArgCount]field{
	{Name: "hookName"},
	{Name: "failureType", Env: "ORC_FAILURE_TYPE", set: setFailureType},
	{Name: "instanceType", Env: "ORC_INSTANCE_TYPE", set: setInstanceType},
	{Name: "isMaster", Env: "ORC_IS_MASTER", set: setBool(func(in *Input) *bool { return &in.IsMaster })},
	{Name: "isCoMaster", Env: "ORC_IS_CO_MASTER", set: setBool(func(in *Input) *bool { return &in.IsCoMaster })},
	{Name: "failureDescription", Env: "ORC_FAILURE_DESCRIPTION", Quoted: true, set: setDescription},
	{Name: "command", Env: "ORC_COMMAND", Quoted: true, set: setCommand},
	{Name: "failedHost", Env: "ORC_FAILED_HOST", set: setHost(func(in *Input) *string { return &in.FailedHost })},
	{Name: "failedPort", Env: "ORC_FAILED_PORT", set: setPort(func(in *Input) *int { return &in.FailedPort })},
	{Name: "failureCluster", Env: "ORC_FAILURE_CLUSTER", set: setClusterText(func(in *Input) *string { return &in.FailureCluster })},
	{Name: "failureClusterAlias", Env: "ORC_FAILURE_CLUSTER_ALIAS", set: setAlias},
	{Name: "failureClusterDomain", Env: "ORC_FAILURE_CLUSTER_DOMAIN", Quoted: true, set: setClusterText(func(in *Input) *string { return &in.ClusterDomain })},
	{Name: "countReplicas", Env: "ORC_COUNT_REPLICAS", set: setCount(func(in *Input) *int { return &in.CountReplicas })},
	{Name: "countSlaves", DuplicateOf: 12},
	{Name: "isDowntimed", Env: "ORC_IS_DOWNTIMED", set: setBool(func(in *Input) *bool { return &in.IsDowntimed })},
	{Name: "autoMasterRecovery", Env: "ORC_AUTO_MASTER_RECOVERY", set: setBool(func(in *Input) *bool { return &in.AutoMasterRecovery })},
	{Name: "autoIntermediateMasterRecovery", Env: "ORC_AUTO_INTERMEDIATE_MASTER_RECOVERY", set: setBool(func(in *Input) *bool { return &in.AutoIntermediateMasterRecovery })},
	{Name: "orchestratorHost", Env: "ORC_ORCHESTRATOR_HOST", set: setOrchestratorHost},
	{Name: "recoveryUID", Env: "ORC_RECOVERY_UID", set: setRecoveryUID},
	{Name: "isSuccessful", Env: "ORC_IS_SUCCESSFUL", set: setBool(func(in *Input) *bool { return &in.IsSuccessful })},
	{Name: "successorHost", Env: "ORC_SUCCESSOR_HOST", set: setHost(func(in *Input) *string { return &in.SuccessorHost })},
	{Name: "successorPort", Env: "ORC_SUCCESSOR_PORT", set: setPort(func(in *Input) *int { return &in.SuccessorPort })},
	{Name: "successorBinlogCoordinates", Env: "ORC_SUCCESSOR_BINLOG_COORDINATES", set: setCoordinates},
	{Name: "successorAlias", Env: "ORC_SUCCESSOR_ALIAS", Quoted: true, set: setSuccessorAlias},
	{Name: "lostReplicas", Env: "ORC_LOST_REPLICAS", Quoted: true, kind: kindList, set: setList(func(in *Input) *[]Addr { return &in.LostReplicas })},
	{Name: "lostSlaves", DuplicateOf: 24, Quoted: true, kind: kindList},
	{Name: "countLostReplicas", set: setCount(func(in *Input) *int { return &in.CountLostReplicas })},
	{Name: "replicaHosts", Env: "ORC_REPLICA_HOSTS", Quoted: true, kind: kindList, set: setList(func(in *Input) *[]Addr { return &in.ReplicaHosts })},
	{Name: "slaveHosts", DuplicateOf: 27, Quoted: true, kind: kindList},
}

// CommandLine renders the hook command Orchestrator should run for
// hookName: recoup's binary and flags, then the layout's placeholders,
// double-quoted where Field.Quoted says. deploy/orchestrator.conf.json
// holds its output (a test checks they agree).
func CommandLine(prefix, hookName string) string {
	parts := []string{prefix, hookName}
	for _, f := range layout[1:] {
		p := "{" + f.Name + "}"
		if f.Quoted {
			p = `"` + p + `"`
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// sameValue compares an argument with its variable (or a legacy duplicate
// with its original): lists as sets, everything else byte for byte.
func sameValue(k valueKind, a, b string) bool {
	if k != kindList {
		return a == b
	}
	return slices.Equal(listSet(a), listSet(b))
}

func listSet(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func setFailureType(in *Input, v string) error {
	if !isToken(v, 64, false) {
		in.warnf("failureType %s is not a known token; ignoring it", quote(v))
		return nil
	}
	in.FailureType = v
	return nil
}

func setInstanceType(in *Input, v string) error {
	switch v {
	case "master", "co-master", "intermediate-master":
		in.InstanceType = v
	default:
		in.warnf("instanceType %s is unknown; ignoring it", quote(v))
	}
	return nil
}

func setDescription(in *Input, v string) error {
	in.FailureDescription = sanitizeText(v, maxDescriptionLen)
	return nil
}

func setCommand(in *Input, v string) error {
	if !isToken(v, 64, true) {
		return fmt.Errorf("%s is not a command name ([a-z0-9-], at most 64)", quote(v))
	}
	in.Command = v
	return nil
}

func setHost(field func(*Input) *string) func(*Input, string) error {
	return func(in *Input, v string) error {
		if err := ValidHost(v); err != nil {
			return err
		}
		*field(in) = v
		return nil
	}
}

func setPort(field func(*Input) *int) func(*Input, string) error {
	return func(in *Input, v string) error {
		p, err := ParsePort(v)
		if err != nil {
			return err
		}
		*field(in) = p
		return nil
	}
}

func setBool(field func(*Input) *bool) func(*Input, string) error {
	return func(in *Input, v string) error {
		switch v {
		case "true":
			*field(in) = true
		case "false":
			*field(in) = false
		default:
			return fmt.Errorf("%s is not true or false", quote(v))
		}
		return nil
	}
}

// maxCount bounds replica counts: far above any real topology.
const maxCount = 100000

func setCount(field func(*Input) *int) func(*Input, string) error {
	return func(in *Input, v string) error {
		n, err := parseDecimal(v, maxCount)
		if err != nil {
			return err
		}
		*field(in) = n
		return nil
	}
}

func setClusterText(field func(*Input) *string) func(*Input, string) error {
	return func(in *Input, v string) error {
		if err := validText(v, 255); err != nil {
			return err
		}
		*field(in) = v
		return nil
	}
}

func setAlias(in *Input, v string) error {
	if err := ValidAlias(v); err != nil {
		return err
	}
	in.FailureClusterAlias = v
	return nil
}

func setOrchestratorHost(in *Input, v string) error {
	if err := ValidHost(v); err != nil {
		in.warnf("orchestratorHost %s: %v; ignoring it", quote(v), err)
		return nil
	}
	in.OrchestratorHost = v
	return nil
}

func setRecoveryUID(in *Input, v string) error {
	if err := ValidRecoveryUID(v); err != nil {
		return err
	}
	in.RecoveryUID = v
	return nil
}

func setCoordinates(in *Input, v string) error {
	if err := ValidBinlogCoordinates(v); err != nil {
		return err
	}
	in.SuccessorBinlogCoordinates = v
	return nil
}

func setSuccessorAlias(in *Input, v string) error {
	if err := validText(v, 255); err != nil {
		in.warnf("successorAlias %s: %v; ignoring it", quote(v), err)
		return nil
	}
	in.SuccessorAlias = v
	return nil
}

func setList(field func(*Input) *[]Addr) func(*Input, string) error {
	return func(in *Input, v string) error {
		l, err := ParseAddrList(v)
		if err != nil {
			return err
		}
		*field(in) = l
		return nil
	}
}

// parseDecimal reads 0..limit written in decimal digits, no sign, no
// leading zero.
func parseDecimal(s string, limit int) (int, error) {
	if s == "" || len(s) > len(strconv.Itoa(limit)) || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%s is not a decimal number 0..%d", quote(s), limit)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s is not a decimal number 0..%d", quote(s), limit)
		}
		n = n*10 + int(c-'0')
	}
	if n > limit {
		return 0, fmt.Errorf("%s is not a decimal number 0..%d", quote(s), limit)
	}
	return n, nil
}
