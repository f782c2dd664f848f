package deploy_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/recoup-dev/recoup/hook"
)

const hookPrefix = "/usr/local/bin/recoup hook --config /etc/recoup/recoup.yaml"

// orchestratorConf is the part of orchestrator.conf.json the test reads.
type orchestratorConf struct {
	ApplyMySQLPromotionAfterMasterFailover *bool
	DetectClusterAliasQuery                string
	PreFailoverProcesses                   []string
	PostFailoverProcesses                  []string
	PostMasterFailoverProcesses            []string
}

func loadOrchestratorConf(t *testing.T) orchestratorConf {
	t.Helper()
	b, err := os.ReadFile("orchestrator.conf.json")
	if err != nil {
		t.Fatal(err)
	}
	var c orchestratorConf
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("orchestrator.conf.json: %v", err)
	}
	return c
}

// TestOrchestratorConf: the shipped hook entries are exactly recoup's
// argument layout (hook.CommandLine), writes stay closed until the hook
// opens them, and recoup runs once per failover.
func TestOrchestratorConf(t *testing.T) {
	c := loadOrchestratorConf(t)
	if c.ApplyMySQLPromotionAfterMasterFailover == nil || *c.ApplyMySQLPromotionAfterMasterFailover {
		t.Error("ApplyMySQLPromotionAfterMasterFailover must be false: writes open only after compensation")
	}
	if !strings.HasPrefix(c.DetectClusterAliasQuery, "SELECT value FROM meta.cluster") {
		t.Errorf("DetectClusterAliasQuery = %q, want the meta.cluster query of meta.sql", c.DetectClusterAliasQuery)
	}
	for name, got := range map[string][]string{
		hook.HookPreFailover: c.PreFailoverProcesses, hook.HookPostFailover: c.PostFailoverProcesses,
	} {
		if want := []string{hook.CommandLine(hookPrefix, name)}; !slices.Equal(got, want) {
			t.Errorf("%s =\n%q\nwant\n%q", name, got, want)
		}
	}
	for _, p := range c.PostMasterFailoverProcesses {
		if strings.Contains(p, "recoup hook") {
			t.Errorf("PostMasterFailoverProcesses runs recoup too (%q): it would compensate twice", p)
		}
	}
}

// TestOrchestratorConfRunsTheHook does what Orchestrator 3.2.6 does with
// the shipped command lines (replace placeholders, let bash split the
// words) with values of a real failover, and checks recoup reads them.
func TestOrchestratorConfRunsTheHook(t *testing.T) {
	c := loadOrchestratorConf(t)
	values := map[string]string{
		"failureType": "DeadMaster", "instanceType": "master", "isMaster": "true", "isCoMaster": "false",
		"failureDescription": "Master cannot be reached by orchestrator and none of its replicas is replicating",
		"command":            "", "failedHost": "10.0.0.1", "failedPort": "3306", "failureCluster": "10.0.0.1:3306",
		"failureClusterAlias": "shop", "failureClusterDomain": "", "countReplicas": "2", "countSlaves": "2",
		"isDowntimed": "false", "autoMasterRecovery": "true", "autoIntermediateMasterRecovery": "true",
		"orchestratorHost": "orc1", "recoveryUID": "1795637339466055585:f2058ff1",
		"lostReplicas": "", "lostSlaves": "", "countLostReplicas": "0",
		"replicaHosts": "10.0.0.2:3306,10.0.0.3:3306", "slaveHosts": "10.0.0.3:3306,10.0.0.2:3306",
	}
	post := map[string]string{"isSuccessful": "true", "successorHost": "10.0.0.2", "successorPort": "3306",
		"successorBinlogCoordinates": "mariadb-bin.000002:29557", "successorAlias": ""}
	for _, tc := range []struct {
		command string
		extra   map[string]string
		want    hook.ActionKind
	}{
		{c.PreFailoverProcesses[0], map[string]string{"isSuccessful": "false"}, hook.ActionPreFailover},
		{c.PostFailoverProcesses[0], post, hook.ActionCompensate},
	} {
		cmd := tc.command
		for _, m := range []map[string]string{values, tc.extra} {
			for k, v := range m {
				cmd = strings.ReplaceAll(cmd, "{"+k+"}", v)
			}
		}
		words := shellWords(t, cmd)
		prefix := strings.Fields(hookPrefix)
		if !slices.Equal(words[:len(prefix)], prefix) {
			t.Fatalf("command %q does not start with %q", cmd, hookPrefix)
		}
		in, err := hook.ParseInput(words[len(prefix):], nil)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if a := in.Action(); a.Kind != tc.want || len(in.Warnings) != 0 {
			t.Errorf("%s: action %v (%s), warnings %q; want %v", in.HookName, a.Kind, a.Reason, in.Warnings, tc.want)
		}
	}
}

// shellWords splits like bash for what the shipped commands contain:
// words separated by spaces, double quotes grouping (no escapes, no
// expansions: the values above have none).
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
			}
			inWord = false
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quotes in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestRecoupYAML: the example parses as YAML, uses only the keys of
// today's config (cmd/recoup refuses unknown keys; its TestDeployExampleLoads
// loads this file with the real loader) and shows the hook and proxy
// sections.
func TestRecoupYAML(t *testing.T) {
	b, err := os.ReadFile("recoup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Top      map[string]any   `yaml:",inline"`
		Clusters []map[string]any `yaml:"clusters"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("recoup.yaml: %v", err)
	}
	known := []string{"clusters", "store", "admin", "log", "hook"}
	for k := range doc.Top {
		if !slices.Contains(known, k) {
			t.Errorf("recoup.yaml sets %s, which the config does not know: comment it out", k)
		}
	}
	clusterKeys := []string{"name", "flavor", "master", "user", "password_file", "password_env",
		"server_id", "allow_replica_source", "semi_sync", "schemas", "compensate", "orchestrator"}
	if len(doc.Clusters) == 0 {
		t.Fatal("recoup.yaml has no cluster")
	}
	for k := range doc.Clusters[0] {
		if !slices.Contains(clusterKeys, k) {
			t.Errorf("recoup.yaml sets clusters[0].%s, which the config does not know", k)
		}
	}
	for _, want := range []string{"\nhook:\n", "\n  on_deadline: stay-fenced\n", "\n  deadline: 30s\n", "\n  proxy:\n", "\n    kind: haproxy\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("recoup.yaml lacks %q", want)
		}
	}
}
