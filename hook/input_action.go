package hook

import "fmt"

// FailureClass is what recoup makes of Orchestrator's failure type.
type FailureClass int

const (
	// FailureUnknown: not a failure type recoup knows; ignored.
	FailureUnknown FailureClass = iota
	// FailureOther: a known failure type that does not replace the
	// cluster's master (intermediate masters, replicas, detection-only
	// analyses); ignored.
	FailureOther
	// FailureMaster: the cluster's master (or a co-master) is replaced.
	FailureMaster
)

func (c FailureClass) String() string {
	switch c {
	case FailureMaster:
		return "master"
	case FailureOther:
		return "other"
	default:
		return "unknown"
	}
}

// Failure types, from Orchestrator's go/inst/analysis.go (3.2.6) and
// go/logic/topology_recovery.go getCheckAndRecoverFunction: DeadMaster and
// DeadMasterAndSomeReplicas run checkAndRecoverDeadMaster, DeadCoMaster
// and DeadCoMasterAndSomeReplicas run checkAndRecoverDeadCoMaster; graceful
// and forced takeovers force the analysis to DeadMaster (forceAnalysisEntry).
// DeadMasterAndReplicas has no recovery in 3.2.6 (so no failover hook
// sees it) but is a master loss if a version recovers it. Older releases
// spelled Replicas as Slaves; later forks spell Master as Primary: both
// are accepted so that no master change is ignored for its spelling.
var masterFailures = map[string]bool{
	"DeadMaster": true, "DeadMasterAndSomeReplicas": true, "DeadMasterAndReplicas": true,
	"DeadCoMaster": true, "DeadCoMasterAndSomeReplicas": true,
	"DeadMasterAndSomeSlaves": true, "DeadMasterAndSlaves": true, "DeadCoMasterAndSomeSlaves": true,
	"DeadPrimary": true, "DeadPrimaryAndSomeReplicas": true, "DeadPrimaryAndReplicas": true,
	"DeadCoPrimary": true, "DeadCoPrimaryAndSomeReplicas": true,
}

// otherFailures are Orchestrator's other analysis codes. PreFailoverProcesses
// and PostFailoverProcesses also run for intermediate-master, group-member
// and NoWriteableMasterStructureWarning recoveries: recoup ignores those.
var otherFailures = map[string]bool{
	"NoProblem": true, "DeadMasterWithoutReplicas": true, "DeadMasterWithoutSlaves": true,
	"UnreachableMaster": true, "UnreachableMasterWithLaggingReplicas": true, "UnreachableMasterWithStaleSlaves": true,
	"MasterSingleReplicaNotReplicating": true, "MasterSingleReplicaDead": true,
	"MasterSingleSlaveNotReplicating": true, "MasterSingleSlaveDead": true,
	"AllMasterReplicasNotReplicating": true, "AllMasterReplicasNotReplicatingOrDead": true,
	"AllMasterSlavesNotReplicating": true, "AllMasterSlavesNotReplicatingOrDead": true, "AllMasterSlavesStale": true,
	"LockedSemiSyncMasterHypothesis": true, "LockedSemiSyncMaster": true,
	"MasterWithoutReplicas": true, "MasterWithoutSlaves": true,
	"UnreachableCoMaster": true, "AllCoMasterReplicasNotReplicating": true, "AllCoMasterSlavesNotReplicating": true,
	"DeadIntermediateMaster": true, "DeadIntermediateMasterWithSingleReplica": true,
	"DeadIntermediateMasterWithSingleReplicaFailingToConnect": true, "DeadIntermediateMasterAndSomeReplicas": true,
	"DeadIntermediateMasterAndReplicas": true, "UnreachableIntermediateMasterWithLaggingReplicas": true,
	"UnreachableIntermediateMaster": true, "AllIntermediateMasterReplicasFailingToConnectOrDead": true,
	"AllIntermediateMasterReplicasNotReplicating": true, "FirstTierReplicaFailingToConnectToMaster": true,
	"BinlogServerFailingToConnectToMaster": true, "DeadReplicationGroupMemberWithReplicas": true,
	"NoWriteableMasterStructureWarning": true,
}

// ClassifyFailure tells master failovers from the rest.
func ClassifyFailure(failureType string) FailureClass {
	switch {
	case masterFailures[failureType]:
		return FailureMaster
	case otherFailures[failureType]:
		return FailureOther
	default:
		return FailureUnknown
	}
}

// Trigger is how the recovery was started, from ORC_COMMAND.
type Trigger int

const (
	// TriggerFailover: Orchestrator detected the failure itself (or an
	// operator ran `recover`); ORC_COMMAND is empty.
	TriggerFailover Trigger = iota
	// TriggerGracefulTakeover: graceful-master-takeover(-auto). The old
	// master was set read-only and drained first; Orchestrator makes the
	// successor writable whatever ApplyMySQLPromotionAfterMasterFailover.
	TriggerGracefulTakeover
	// TriggerForceTakeover: force-master-takeover, to a chosen replica;
	// the old master may still be alive and writable.
	TriggerForceTakeover
	// TriggerForceFailover: force-master-failover; Orchestrator trusts
	// the master is dead without checking.
	TriggerForceFailover
	// TriggerUnknownCommand: a command recoup does not know. recoup still
	// acts: a master change must never be skipped for its spelling.
	TriggerUnknownCommand
)

func (t Trigger) String() string {
	switch t {
	case TriggerFailover:
		return "failover"
	case TriggerGracefulTakeover:
		return "graceful-takeover"
	case TriggerForceTakeover:
		return "force-takeover"
	case TriggerForceFailover:
		return "force-failover"
	default:
		return "unknown-command"
	}
}

// TriggerOf maps ORC_COMMAND to a Trigger. The command hints are
// Orchestrator's go/inst/analysis.go constants ForceMasterFailoverCommandHint
// ("force-master-failover"), ForceMasterTakeoverCommandHint
// ("force-master-takeover") and GracefulMasterTakeoverCommandHint
// ("graceful-master-takeover"), set by forceAnalysisEntry and exported by
// applyEnvironmentVariables as ORC_COMMAND (go/logic/topology_recovery.go).
// GracefulMasterTakeover(clusterName, designatedKey, auto) passes the same
// hint with and without auto, so graceful-master-takeover-auto (the CLI and
// API command name) is accepted too but not expected.
func TriggerOf(command string) Trigger {
	switch command {
	case "":
		return TriggerFailover
	case "graceful-master-takeover", "graceful-master-takeover-auto":
		return TriggerGracefulTakeover
	case "force-master-takeover":
		return TriggerForceTakeover
	case "force-master-failover":
		return TriggerForceFailover
	default:
		return TriggerUnknownCommand
	}
}

// ActionKind is what `recoup hook` does for one invocation.
type ActionKind int

const (
	// ActionIgnore: log Action.Reason in one line and exit 0.
	ActionIgnore ActionKind = iota
	// ActionPreFailover: before the promotion (PreFailoverProcesses, no
	// successor yet): fence the old master if it is reachable.
	ActionPreFailover
	// ActionCompensate: after a successful promotion: replay what the
	// successor lacks, then route writes to it.
	ActionCompensate
)

func (k ActionKind) String() string {
	switch k {
	case ActionPreFailover:
		return "pre-failover"
	case ActionCompensate:
		return "compensate"
	default:
		return "ignore"
	}
}

// Action is the decision for one hook invocation.
type Action struct {
	Kind    ActionKind
	Trigger Trigger
	// Reason is one line for the log: why recoup ignores the invocation,
	// or what it is about to do.
	Reason string
}

// Action decides what recoup does with in. It acts only on master
// failovers (FailureMaster), in PreFailoverProcesses (fence) and in
// PostFailoverProcesses or PostMasterFailoverProcesses once the recovery
// succeeded (compensate). Orchestrator runs both post hooks for a master
// recovery, PostMasterFailoverProcesses first: configure recoup in one of
// them (deploy/orchestrator.conf.json uses PostFailoverProcesses).
func (in Input) Action() Action {
	a := Action{Kind: ActionIgnore, Trigger: TriggerOf(in.Command)}
	if !actingHook(in.HookName) {
		a.Reason = fmt.Sprintf("hook %s: recoup acts only in %s, %s and %s",
			in.HookName, HookPreFailover, HookPostFailover, HookPostMasterFailover)
		return a
	}
	if in.FailureClass != FailureMaster {
		a.Reason = fmt.Sprintf("failure type %s (%s) is not a master failover", quote(in.FailureType), in.FailureClass)
		return a
	}
	if in.HookName == HookPreFailover {
		a.Kind = ActionPreFailover
		a.Reason = fmt.Sprintf("%s of %s in cluster %s (%s): fence the old master",
			in.FailureType, in.Failed(), quote(in.FailureClusterAlias), a.Trigger)
		return a
	}
	succ, ok := in.Successor()
	switch {
	case !in.IsSuccessful:
		a.Reason = "recovery not successful"
	case !ok:
		a.Reason = "no successor"
	default:
		a.Kind = ActionCompensate
		a.Reason = fmt.Sprintf("%s of %s in cluster %s (%s): compensate on %s",
			in.FailureType, in.Failed(), quote(in.FailureClusterAlias), a.Trigger, succ)
	}
	return a
}

func actingHook(name string) bool {
	return name == HookPreFailover || name == HookPostFailover || name == HookPostMasterFailover
}
