// Package hook is recoup's Orchestrator entry point: `recoup hook` runs as
// one of Orchestrator's recovery hooks and, on a master failover, fences the
// old master, replays the transactions the new master lacks and switches
// the SQL proxy.
//
// The input*.go files read and validate what Orchestrator passes to the
// hook: ParseInput turns the command line and the ORC_* environment into
// an Input, and Input.Action says what recoup does with it (nothing, fence
// before the promotion, or compensate after it). They do no I/O.
//
// # What Orchestrator passes
//
// Orchestrator (go/logic/topology_recovery.go, 3.2.6) replaces
// {placeholders} in each configured hook command line (prepareCommand),
// writes the result to a temporary file, runs it with bash and waits for
// it; it also appends ORC_* variables to its own environment
// (applyEnvironmentVariables). Before a successor exists (the
// PreFailoverProcesses hook) it neither replaces {successorHost},
// {successorPort}, {successorBinlogCoordinates} nor {successorAlias}, and
// sets no ORC_SUCCESSOR_* variable: those arguments arrive as the literal
// placeholder text. testdata/orchestrator-3.2.6-hook-input.txt is what a
// real Orchestrator 3.2.6 passed in a real MariaDB failover.
//
// # The command line recoup expects
//
//	recoup hook --config FILE <HookName> [positional arguments]
//
// After the flags, argument 0 is the hook name and arguments 1 to 28 are,
// in this order (CommandLine renders it; deploy/orchestrator.conf.json
// configures exactly this):
//
//	 1 {failureType}                  15 {autoMasterRecovery}
//	 2 {instanceType}                 16 {autoIntermediateMasterRecovery}
//	 3 {isMaster}                     17 {orchestratorHost}
//	 4 {isCoMaster}                   18 {recoveryUID}
//	 5 "{failureDescription}"         19 {isSuccessful}
//	 6 "{command}"                    20 {successorHost}
//	 7 {failedHost}                   21 {successorPort}
//	 8 {failedPort}                   22 {successorBinlogCoordinates}
//	 9 {failureCluster}               23 "{successorAlias}"
//	10 {failureClusterAlias}          24 "{lostReplicas}"
//	11 "{failureClusterDomain}"       25 "{lostSlaves}"
//	12 {countReplicas}                26 {countLostReplicas}
//	13 {countSlaves}                  27 "{replicaHosts}"
//	14 {isDowntimed}                  28 "{slaveHosts}"
//
// Any prefix of the layout is accepted, down to the hook name alone: the
// ORC_* variables carry everything but {countLostReplicas} (derived from
// the lost replica list) and the legacy duplicates 13, 25 and 28 (compared
// with 12, 24 and 27). A variable that is set, even to the empty string,
// wins over its argument; when both are present and differ, the variable
// is used and Input.Warnings says so (lists are compared as sets:
// Orchestrator prints them in Go map order, so the argument and the
// variable of the same recovery can list replicas in different orders).
// An argument that is still a {placeholder} counts as absent.
//
// # Untrusted input
//
// Every value is checked before recoup uses it: hosts (an IP literal, or a
// DNS name under a strict grammar), ports (1-65535, decimal digits only),
// the recovery UID (a short token), the cluster alias (bounded, printable,
// no space, no path separator; SafeName maps it to [A-Za-z0-9._-] for
// lock, file and topic names), booleans, counts and binlog coordinates. A
// value that fails its check makes ParseInput fail; informational fields
// that fail (description, orchestrator host, successor alias, instance
// type) are dropped with a warning. An unknown failure type is not an
// error: Action ignores it. recoup never passes hook input to a shell or
// formats it into SQL text. Orchestrator itself does paste placeholder
// values into the bash script it runs: see deploy/README.md for the
// environment-only form.
//
// # The failover
//
// sequence*.go, fence.go, lock.go, failover*.go and summary.go carry out what
// Input.Action decides. Sequence.Run is the post-failover run: fence the new
// master; fence the proxy's writer and the old master; take the cluster lock;
// settle capture (telling the daemon); compensate; switch and verify the
// proxy; detach; unfence. It runs under a deadline, with a policy for when
// compensation cannot finish (Budget). PreFailover fences the old master
// before the promotion. The steps are interfaces, tested with fakes;
// NewFailover wires the real ones. Summary is printed for Orchestrator and
// saved (RunFile) so that a rerun of the same recovery only verifies.
//
// Main types: Input, Addr, Action, FailureClass, Sequence, Budget, Env,
// Summary, Server, ClusterLock, RunFile, Admin.
package hook

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Hook names: the Orchestrator configuration keys whose commands run
// `recoup hook`. recoup acts in the three failover hooks; the others are
// accepted and ignored, so one recoup entry can sit in any of them.
const (
	HookOnFailureDetection         = "OnFailureDetectionProcesses"
	HookPreGracefulTakeover        = "PreGracefulTakeoverProcesses"
	HookPreFailover                = "PreFailoverProcesses"
	HookPostMasterFailover         = "PostMasterFailoverProcesses"
	HookPostIntermediateMasterFail = "PostIntermediateMasterFailoverProcesses"
	HookPostFailover               = "PostFailoverProcesses"
	HookPostUnsuccessfulFailover   = "PostUnsuccessfulFailoverProcesses"
	HookPostGracefulTakeover       = "PostGracefulTakeoverProcesses"
)

// ArgCount is the number of positional arguments in recoup's layout,
// the hook name included.
const ArgCount = 29

const (
	maxValueLen       = 64 << 10 // any one argument or variable
	maxDescriptionLen = 512
)

var knownHooks = map[string]bool{
	HookOnFailureDetection: true, HookPreGracefulTakeover: true, HookPreFailover: true,
	HookPostMasterFailover: true, HookPostIntermediateMasterFail: true, HookPostFailover: true,
	HookPostUnsuccessfulFailover: true, HookPostGracefulTakeover: true,
}

// Input is one hook invocation, validated. Absent values are zero: a port
// of 0, an empty host, a nil list.
type Input struct {
	HookName           string
	FailureType        string       // e.g. DeadMaster; "" if it was not a plain token
	FailureClass       FailureClass // what recoup makes of FailureType
	InstanceType       string       // master, co-master or intermediate-master
	IsMaster           bool
	IsCoMaster         bool
	FailureDescription string // for people: control characters replaced, truncated
	Command            string // ORC_COMMAND: "" or e.g. graceful-master-takeover
	FailedHost         string
	FailedPort         int
	FailureCluster     string // Orchestrator's cluster name (the first master's host:port)
	// FailureClusterAlias is the cluster's stable name (DetectClusterAliasQuery);
	// it selects the cluster in recoup.yaml.
	FailureClusterAlias            string
	ClusterDomain                  string
	CountReplicas                  int
	IsDowntimed                    bool
	AutoMasterRecovery             bool
	AutoIntermediateMasterRecovery bool
	OrchestratorHost               string
	RecoveryUID                    string
	IsSuccessful                   bool
	SuccessorHost                  string // empty before a successor exists
	SuccessorPort                  int
	SuccessorBinlogCoordinates     string // file:pos on the successor
	SuccessorAlias                 string
	LostReplicas                   []Addr
	CountLostReplicas              int
	ReplicaHosts                   []Addr
	// Warnings are one-line notes for the log: an argument that disagreed
	// with its variable, an informational value dropped.
	Warnings []string
}

// Failed is the failed instance's address.
func (in Input) Failed() Addr { return Addr{Host: in.FailedHost, Port: in.FailedPort} }

// Successor is the promoted instance's address; ok is false before a
// successor exists.
func (in Input) Successor() (a Addr, ok bool) {
	if in.SuccessorHost == "" || in.SuccessorPort == 0 {
		return Addr{}, false
	}
	return Addr{Host: in.SuccessorHost, Port: in.SuccessorPort}, true
}

// SafeName is the cluster alias mapped to [A-Za-z0-9._-] (see SafeName).
func (in Input) SafeName() string { return SafeName(in.FailureClusterAlias) }

// ErrInput marks hook input that recoup refuses.
var ErrInput = errors.New("invalid hook input")

// ParseInput reads one hook invocation: args are the arguments after
// `recoup hook`'s flags (args[0] is the hook name), env the process
// environment (only ORC_* keys are read). See the package documentation
// for the layout and for which source wins.
func ParseInput(args []string, env map[string]string) (Input, error) {
	var in Input
	if len(args) == 0 {
		return in, fmt.Errorf("%w: no hook name (want e.g. %s)", ErrInput, HookPostFailover)
	}
	if len(args) > len(layout) {
		return in, fmt.Errorf("%w: %d arguments, the layout has %d (see deploy/orchestrator.conf.json)",
			ErrInput, len(args), len(layout))
	}
	for i, a := range args {
		if len(a) > maxValueLen {
			return in, fmt.Errorf("%w: argument %d is %d bytes long (limit %d)", ErrInput, i, len(a), maxValueLen)
		}
	}
	if !knownHooks[args[0]] {
		return in, fmt.Errorf("%w: unknown hook name %s", ErrInput, quote(args[0]))
	}
	in.HookName = args[0]
	resolved := make([]resolvedValue, len(layout))
	for i := 1; i < len(layout); i++ {
		v, err := resolve(i, args, env, &in)
		if err != nil {
			return in, err
		}
		resolved[i] = v
	}
	for i := 1; i < len(layout); i++ {
		if err := apply(i, resolved, &in); err != nil {
			return in, err
		}
	}
	in.finish()
	if err := in.checkRequired(); err != nil {
		return in, err
	}
	return in, nil
}

// resolvedValue is one position's value after choosing between the
// variable and the argument.
type resolvedValue struct {
	value   string
	present bool
}

// resolve picks position i's value: the ORC_* variable when set, else the
// argument unless it is a placeholder.
func resolve(i int, args []string, env map[string]string, in *Input) (resolvedValue, error) {
	f := layout[i]
	var arg, ev resolvedValue
	if i < len(args) && !isPlaceholder(args[i]) {
		arg = resolvedValue{args[i], true}
	}
	if f.Env != "" {
		if v, ok := env[f.Env]; ok && !isPlaceholder(v) {
			if len(v) > maxValueLen {
				return ev, fmt.Errorf("%w: %s is %d bytes long (limit %d)", ErrInput, f.Env, len(v), maxValueLen)
			}
			ev = resolvedValue{v, true}
		}
	}
	if !ev.present {
		return arg, nil
	}
	if arg.present && !sameValue(f.kind, ev.value, arg.value) {
		in.warnf("%s: environment %s=%s and argument %d=%s differ; using the environment",
			f.Name, f.Env, quote(ev.value), i, quote(arg.value))
	}
	return ev, nil
}

// apply stores position i's value into in, or checks a legacy duplicate
// against the position it repeats.
func apply(i int, rs []resolvedValue, in *Input) error {
	f, r := layout[i], rs[i]
	if f.DuplicateOf != 0 {
		p := rs[f.DuplicateOf]
		if r.present && p.present && !sameValue(f.kind, r.value, p.value) {
			in.warnf("%s=%s differs from %s=%s; using %s", f.Name, quote(r.value),
				layout[f.DuplicateOf].Name, quote(p.value), layout[f.DuplicateOf].Name)
		}
		return nil
	}
	if !r.present || r.value == "" {
		return nil
	}
	if err := f.set(in, r.value); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInput, f.Name, err)
	}
	return nil
}

// finish derives what the layout does not carry directly.
func (in *Input) finish() {
	in.FailureClass = ClassifyFailure(in.FailureType)
	if TriggerOf(in.Command) == TriggerUnknownCommand {
		in.warnf("command %s is not one recoup knows; treating it as a failover", quote(in.Command))
	}
	if in.CountLostReplicas == 0 {
		in.CountLostReplicas = len(in.LostReplicas)
	} else if in.CountLostReplicas != len(in.LostReplicas) {
		in.warnf("countLostReplicas=%d but %d lost replicas are listed", in.CountLostReplicas, len(in.LostReplicas))
	}
}

// checkRequired refuses a master failover hook that lacks what recoup
// needs to act: the failed master, the cluster alias and, once the
// recovery succeeded, the successor.
func (in *Input) checkRequired() error {
	if in.FailureClass != FailureMaster || !actingHook(in.HookName) {
		return nil
	}
	var missing []string
	if in.FailedHost == "" || in.FailedPort == 0 {
		missing = append(missing, "failedHost/failedPort")
	}
	if in.FailureClusterAlias == "" {
		missing = append(missing, "failureClusterAlias")
	}
	if in.HookName != HookPreFailover && in.IsSuccessful {
		if _, ok := in.Successor(); !ok {
			missing = append(missing, "successorHost/successorPort")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s for %s lacks %s", ErrInput, in.HookName, in.FailureType, strings.Join(missing, ", "))
	}
	return nil
}

func (in *Input) warnf(format string, args ...any) {
	in.Warnings = append(in.Warnings, fmt.Sprintf(format, args...))
}

// isPlaceholder reports whether s is an unreplaced {placeholder}.
func isPlaceholder(s string) bool {
	if len(s) < 3 || s[0] != '{' || s[len(s)-1] != '}' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// quote prints an untrusted value for a log line: Go-quoted, cut at 80 bytes.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
