package hook

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

const fixtureUID = "1795637339466055585:f2058ff1887b6e1137bbfb8f357a10a0ed8692d24d1343643b074ba28980d063"

// wantPost is the fixture's PostFailoverProcesses invocation.
func wantPost() Input {
	return Input{
		HookName: HookPostFailover, FailureType: "DeadMaster", FailureClass: FailureMaster,
		InstanceType: "master", IsMaster: true,
		FailureDescription:  "Master cannot be reached by orchestrator and none of its replicas is replicating",
		FailedHost:          "127.0.0.1",
		FailedPort:          33306,
		FailureCluster:      "127.0.0.1:33306",
		FailureClusterAlias: "127.0.0.1:33306", ClusterDomain: "127.0.0.1:33306",
		CountReplicas: 2, AutoMasterRecovery: true, AutoIntermediateMasterRecovery: true,
		OrchestratorHost: "vm", RecoveryUID: fixtureUID, IsSuccessful: true,
		SuccessorHost: "127.0.0.1", SuccessorPort: 33308,
		SuccessorBinlogCoordinates: "mariadb-bin.000002:29557",
		// The variable's order (the argument lists 33308 first).
		ReplicaHosts: []Addr{{"127.0.0.1", 33307}, {"127.0.0.1", 33308}},
	}
}

func TestParseFixture(t *testing.T) {
	fx := loadFixture(t)

	post, err := ParseInput(fx.postArgs, fx.postEnv)
	if err != nil {
		t.Fatalf("post hook: %v", err)
	}
	if want := wantPost(); !reflect.DeepEqual(post, want) {
		t.Errorf("post hook:\n got %+v\nwant %+v", post, want)
	}
	if a := post.Action(); a.Kind != ActionCompensate || a.Trigger != TriggerFailover ||
		!strings.Contains(a.Reason, "compensate on 127.0.0.1:33308") {
		t.Errorf("post hook action = %+v, want compensate on 127.0.0.1:33308 after a failover", a)
	}
	if got := post.SafeName(); got != "127.0.0.1_3a33306" {
		t.Errorf("SafeName = %q", got)
	}

	pre, err := ParseInput(fx.preArgs, fx.preEnv)
	if err != nil {
		t.Fatalf("pre hook: %v", err)
	}
	want := wantPost()
	want.HookName = HookPreFailover
	want.IsSuccessful = false
	want.SuccessorHost, want.SuccessorPort, want.SuccessorBinlogCoordinates = "", 0, ""
	if !reflect.DeepEqual(pre, want) {
		t.Errorf("pre hook:\n got %+v\nwant %+v", pre, want)
	}
	if _, ok := pre.Successor(); ok {
		t.Error("pre hook has a successor; the placeholders must count as absent")
	}
	if a := pre.Action(); a.Kind != ActionPreFailover || !strings.Contains(a.Reason, "127.0.0.1:33306") {
		t.Errorf("pre hook action = %+v, want pre-failover naming the old master", a)
	}
}

// TestParseFixtureOneSource: the arguments alone and the variables alone
// each give the same Input as both together.
func TestParseFixtureOneSource(t *testing.T) {
	fx := loadFixture(t)
	argsOnly, err := ParseInput(fx.postArgs, nil)
	if err != nil {
		t.Fatalf("arguments only: %v", err)
	}
	want := wantPost()
	want.ReplicaHosts = []Addr{{"127.0.0.1", 33308}, {"127.0.0.1", 33307}} // the argument's order
	if !reflect.DeepEqual(argsOnly, want) {
		t.Errorf("arguments only:\n got %+v\nwant %+v", argsOnly, want)
	}
	envOnly, err := ParseInput([]string{HookPostFailover}, fx.postEnv)
	if err != nil {
		t.Fatalf("environment only: %v", err)
	}
	if !reflect.DeepEqual(envOnly, wantPost()) {
		t.Errorf("environment only:\n got %+v\nwant %+v", envOnly, wantPost())
	}
	preArgsOnly, err := ParseInput(fx.preArgs, nil)
	if err != nil {
		t.Fatalf("pre hook, arguments only: %v", err)
	}
	if _, ok := preArgsOnly.Successor(); ok || preArgsOnly.SuccessorBinlogCoordinates != "" {
		t.Errorf("pre hook, arguments only: successor %s:%d %q from placeholders",
			preArgsOnly.SuccessorHost, preArgsOnly.SuccessorPort, preArgsOnly.SuccessorBinlogCoordinates)
	}
}

func TestParseConflicts(t *testing.T) {
	fx := loadFixture(t)
	tests := []struct {
		name     string
		env      map[string]string // merged into the fixture's
		arg      map[int]string    // replaces fixture arguments
		check    func(Input) bool
		warnings []string // substrings, one warning each
	}{
		{name: "environment wins", env: map[string]string{"ORC_SUCCESSOR_HOST": "10.0.0.8"},
			check:    func(in Input) bool { return in.SuccessorHost == "10.0.0.8" },
			warnings: []string{`successorHost: environment ORC_SUCCESSOR_HOST="10.0.0.8" and argument 20="127.0.0.1" differ`}},
		{name: "empty variable wins", arg: map[int]string{24: "10.0.0.9:3306"},
			check:    func(in Input) bool { return in.LostReplicas == nil },
			warnings: []string{"lostReplicas: environment ORC_LOST_REPLICAS"}},
		{name: "list order is not a difference", arg: map[int]string{27: " 127.0.0.1:33307 ,127.0.0.1:33308", 28: "127.0.0.1:33307,127.0.0.1:33308,127.0.0.1:33307"},
			check: func(in Input) bool { return len(in.ReplicaHosts) == 2 }},
		{name: "legacy duplicate differs", arg: map[int]string{13: "3"},
			check:    func(in Input) bool { return in.CountReplicas == 2 },
			warnings: []string{`countSlaves="3" differs from countReplicas="2"`}},
		{name: "lost count differs", arg: map[int]string{26: "4"},
			check:    func(in Input) bool { return in.CountLostReplicas == 4 },
			warnings: []string{"countLostReplicas=4 but 0 lost replicas are listed"}},
		{name: "informational values dropped", env: map[string]string{"ORC_ORCHESTRATOR_HOST": "orc_1", "ORC_INSTANCE_TYPE": "leader"},
			arg:      map[int]string{17: "orc_1", 2: "leader"},
			check:    func(in Input) bool { return in.OrchestratorHost == "" && in.InstanceType == "" },
			warnings: []string{"instanceType", "orchestratorHost"}},
		{name: "description sanitized", env: map[string]string{"ORC_FAILURE_DESCRIPTION": "dead\x1b[31m\x00" + strings.Repeat("x", 600)},
			arg: map[int]string{5: "dead"},
			check: func(in Input) bool {
				return strings.HasPrefix(in.FailureDescription, "dead?[31m?x") && len(in.FailureDescription) == 512
			},
			warnings: []string{"failureDescription"}},
		{name: "unknown command still acts", env: map[string]string{"ORC_COMMAND": "graceful-primary-takeover"}, arg: map[int]string{6: "graceful-primary-takeover"},
			check: func(in Input) bool {
				a := in.Action()
				return a.Kind == ActionCompensate && a.Trigger == TriggerUnknownCommand
			},
			warnings: []string{`command "graceful-primary-takeover" is not one recoup knows`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := maps.Clone(fx.postEnv)
			maps.Copy(env, tc.env)
			args := append([]string(nil), fx.postArgs...)
			for i, v := range tc.arg {
				args[i] = v
			}
			in, err := ParseInput(args, env)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(in) {
				t.Errorf("unexpected input %+v", in)
			}
			if len(in.Warnings) != len(tc.warnings) {
				t.Fatalf("warnings %q, want %d", in.Warnings, len(tc.warnings))
			}
			for i, w := range tc.warnings {
				if !strings.Contains(in.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, in.Warnings[i], w)
				}
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	fx := loadFixture(t)
	tests := []struct {
		name string
		args []string          // nil: the fixture's post arguments
		env  map[string]string // merged into the fixture's post variables
		arg  map[int]string
	}{
		{name: "no arguments", args: []string{}},
		{name: "unknown hook", arg: map[int]string{0: "PostFailoverProcess"}},
		{name: "too many arguments", args: append(append([]string(nil), fx.postArgs...), "extra")},
		{name: "huge value", env: map[string]string{"ORC_FAILURE_DESCRIPTION": strings.Repeat("x", maxValueLen+1)}},
		{name: "host with a shell metacharacter", env: map[string]string{"ORC_SUCCESSOR_HOST": "127.0.0.1;reboot"}},
		{name: "host with a space", env: map[string]string{"ORC_FAILED_HOST": "db 1"}},
		{name: "host with a newline", env: map[string]string{"ORC_FAILED_HOST": "db1\n"}},
		{name: "host with an underscore", env: map[string]string{"ORC_FAILED_HOST": "db_1"}},
		{name: "host placeholder inside a value", env: map[string]string{"ORC_SUCCESSOR_HOST": "x{successorHost}"}},
		{name: "port zero", env: map[string]string{"ORC_SUCCESSOR_PORT": "0"}},
		{name: "port too big", env: map[string]string{"ORC_FAILED_PORT": "65536"}},
		{name: "port with sign", env: map[string]string{"ORC_FAILED_PORT": "+3306"}},
		{name: "port with leading zero", env: map[string]string{"ORC_FAILED_PORT": "03306"}},
		{name: "port hex", env: map[string]string{"ORC_FAILED_PORT": "0xcea"}},
		{name: "alias with slash", env: map[string]string{"ORC_FAILURE_CLUSTER_ALIAS": "../etc"}},
		{name: "alias dot-dot", env: map[string]string{"ORC_FAILURE_CLUSTER_ALIAS": ".."}},
		{name: "alias with control character", env: map[string]string{"ORC_FAILURE_CLUSTER_ALIAS": "shop\x07"}},
		{name: "alias with a space", env: map[string]string{"ORC_FAILURE_CLUSTER_ALIAS": "shop eu"}},
		{name: "alias too long", env: map[string]string{"ORC_FAILURE_CLUSTER_ALIAS": strings.Repeat("a", MaxAliasLen+1)}},
		{name: "uid with space", env: map[string]string{"ORC_RECOVERY_UID": "1 2"}},
		{name: "uid too long", env: map[string]string{"ORC_RECOVERY_UID": strings.Repeat("a", MaxRecoveryUID+1)}},
		{name: "bool not true or false", env: map[string]string{"ORC_IS_SUCCESSFUL": "yes"}},
		{name: "command with space", env: map[string]string{"ORC_COMMAND": "graceful master"}},
		{name: "replica list with bad entry", env: map[string]string{"ORC_REPLICA_HOSTS": "127.0.0.1:33307,db$(id):1"}},
		{name: "negative count", env: map[string]string{"ORC_COUNT_REPLICAS": "-1"}},
		{name: "bad coordinates", env: map[string]string{"ORC_SUCCESSOR_BINLOG_COORDINATES": "bin;1:4"}},
		{name: "successful without successor", env: map[string]string{"ORC_SUCCESSOR_HOST": "{successorHost}"}, arg: map[int]string{20: "{successorHost}"}},
		{name: "master failover without alias", env: map[string]string{"ORC_FAILURE_CLUSTER_ALIAS": ""}},
		{name: "master failover without failed port", env: map[string]string{"ORC_FAILED_PORT": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args == nil {
				args = append([]string(nil), fx.postArgs...)
			}
			for i, v := range tc.arg {
				args[i] = v
			}
			env := maps.Clone(fx.postEnv)
			maps.Copy(env, tc.env)
			in, err := ParseInput(args, env)
			if !errors.Is(err, ErrInput) {
				t.Fatalf("ParseInput accepted it (err %v): %+v", err, in)
			}
		})
	}
}

func TestAction(t *testing.T) {
	base := Input{FailureType: "DeadMaster", FailureClass: FailureMaster, FailedHost: "10.0.0.1", FailedPort: 3306,
		FailureClusterAlias: "shop", IsSuccessful: true, SuccessorHost: "10.0.0.2", SuccessorPort: 3306}
	tests := []struct {
		name   string
		edit   func(*Input)
		kind   ActionKind
		reason string
	}{
		{"post failover", func(in *Input) { in.HookName = HookPostFailover }, ActionCompensate, "compensate on 10.0.0.2:3306"},
		{"post master failover", func(in *Input) { in.HookName = HookPostMasterFailover }, ActionCompensate, "compensate"},
		{"pre failover", func(in *Input) { in.HookName = HookPreFailover; in.IsSuccessful = false; in.SuccessorHost = "" }, ActionPreFailover, "fence the old master"},
		{"not successful", func(in *Input) { in.HookName = HookPostFailover; in.IsSuccessful = false }, ActionIgnore, "recovery not successful"},
		{"no successor", func(in *Input) { in.HookName = HookPostFailover; in.SuccessorPort = 0 }, ActionIgnore, "no successor"},
		{"detection hook", func(in *Input) { in.HookName = HookOnFailureDetection }, ActionIgnore, "recoup acts only in"},
		{"graceful takeover hook", func(in *Input) { in.HookName = HookPostGracefulTakeover }, ActionIgnore, "recoup acts only in"},
		{"unsuccessful hook", func(in *Input) { in.HookName = HookPostUnsuccessfulFailover }, ActionIgnore, "recoup acts only in"},
		{"intermediate master", func(in *Input) {
			in.HookName = HookPostFailover
			in.FailureType, in.FailureClass = "DeadIntermediateMaster", FailureOther
		}, ActionIgnore, `failure type "DeadIntermediateMaster" (other) is not a master failover`},
		{"unknown failure", func(in *Input) {
			in.HookName = HookPreFailover
			in.FailureType, in.FailureClass = "Martians", FailureUnknown
		}, ActionIgnore, "(unknown) is not a master failover"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			tc.edit(&in)
			a := in.Action()
			if a.Kind != tc.kind || !strings.Contains(a.Reason, tc.reason) || strings.Contains(a.Reason, "\n") {
				t.Errorf("Action() = %v %q, want %v containing %q", a.Kind, a.Reason, tc.kind, tc.reason)
			}
		})
	}
}

func TestTriggerAndClass(t *testing.T) {
	triggers := map[string]Trigger{
		"": TriggerFailover, "graceful-master-takeover": TriggerGracefulTakeover,
		"graceful-master-takeover-auto": TriggerGracefulTakeover, "force-master-takeover": TriggerForceTakeover,
		"force-master-failover": TriggerForceFailover, "relocate": TriggerUnknownCommand,
	}
	for cmd, want := range triggers {
		if got := TriggerOf(cmd); got != want {
			t.Errorf("TriggerOf(%q) = %v, want %v", cmd, got, want)
		}
	}
	classes := map[string]FailureClass{
		"DeadMaster": FailureMaster, "DeadMasterAndSomeReplicas": FailureMaster, "DeadMasterAndSlaves": FailureMaster,
		"DeadCoMaster": FailureMaster, "DeadCoMasterAndSomeReplicas": FailureMaster,
		"UnreachableMaster": FailureOther, "DeadIntermediateMaster": FailureOther,
		"NoWriteableMasterStructureWarning": FailureOther, "deadmaster": FailureUnknown, "": FailureUnknown,
	}
	for ft, want := range classes {
		if got := ClassifyFailure(ft); got != want {
			t.Errorf("ClassifyFailure(%q) = %v, want %v", ft, got, want)
		}
	}
}

func TestUnknownFailureTypeIsIgnoredNotRefused(t *testing.T) {
	fx := loadFixture(t)
	for _, ft := range []string{"SomethingNew", "Dead Master; reboot"} {
		env := maps.Clone(fx.postEnv)
		env["ORC_FAILURE_TYPE"] = ft
		in, err := ParseInput(fx.postArgs, env)
		if err != nil {
			t.Fatalf("failure type %q: %v", ft, err)
		}
		if a := in.Action(); a.Kind != ActionIgnore || in.FailureClass != FailureUnknown {
			t.Errorf("failure type %q: class %v, action %+v; want unknown, ignored", ft, in.FailureClass, a)
		}
	}
}
