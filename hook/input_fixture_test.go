package hook

import (
	"bufio"
	"maps"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fixturePath is a verbatim copy of what a real Orchestrator 3.2.6 passed
// to its hooks (../shared/fixtures/orchestrator-3.2.6-hook-input.txt).
const fixturePath = "testdata/orchestrator-3.2.6-hook-input.txt"

// fixture is the parsed fixture: the configured command line and, per
// hook, its arguments and environment.
type fixture struct {
	commandLine string   // the "hook command line configured" comment, one line
	postArgs    []string // PostFailoverProcesses, complete
	postEnv     map[string]string
	preArgs     []string // PreFailoverProcesses: the post arguments with the listed ones replaced
	preEnv      map[string]string
}

var (
	argLine = regexp.MustCompile(`^arg\[(\d+)\]=<(.*)>$`)
	envLine = regexp.MustCompile(`^(ORC_[A-Z_]+)=(.*)$`)
)

// loadFixture parses the fixture text. The PreFailoverProcesses section
// lists only what differs from the post hook of the same recovery; its
// other arguments and variables are taken from the post hook, minus the
// ORC_SUCCESSOR_* variables the section says are not set.
func loadFixture(t testing.TB) fixture {
	t.Helper()
	text, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatalf("reading the Orchestrator fixture: %v", err)
	}
	fx := fixture{postEnv: map[string]string{}}
	var section string
	var preArgs map[int]string
	preEnv := map[string]string{}
	noSuccessorVars := false
	var cmd []string
	inCmd := false
	sc := bufio.NewScanner(strings.NewReader(string(text)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# The hook command line configured"):
			inCmd = true
			continue
		case inCmd && strings.HasPrefix(line, "#   "):
			cmd = append(cmd, strings.TrimSpace(strings.TrimPrefix(line, "#")))
			continue
		case inCmd:
			inCmd = false
		}
		if strings.HasPrefix(line, "## ") {
			section = line
			continue
		}
		if m := argLine.FindStringSubmatch(line); m != nil {
			i, _ := strconv.Atoi(m[1])
			switch {
			case strings.Contains(section, "PostFailoverProcesses: arguments"):
				if i != len(fx.postArgs) {
					t.Fatalf("fixture: arg[%d] out of order", i)
				}
				fx.postArgs = append(fx.postArgs, m[2])
			case strings.Contains(section, "PreFailoverProcesses"):
				if preArgs == nil {
					preArgs = map[int]string{}
				}
				preArgs[i] = m[2]
			}
			continue
		}
		if m := envLine.FindStringSubmatch(line); m != nil {
			switch {
			case strings.Contains(section, "PostFailoverProcesses: environment"):
				fx.postEnv[m[1]] = m[2]
			case strings.Contains(section, "PreFailoverProcesses"):
				preEnv[m[1]] = m[2]
			}
			continue
		}
		if strings.Contains(section, "PreFailoverProcesses") && strings.Contains(line, "no ORC_SUCCESSOR_* variables are set") {
			noSuccessorVars = true
		}
	}
	if len(fx.postArgs) != ArgCount || len(fx.postEnv) == 0 || len(preArgs) == 0 || !noSuccessorVars || len(cmd) == 0 {
		t.Fatalf("fixture not understood: %d post args, %d post variables, %d pre args, successor note %v, command %q",
			len(fx.postArgs), len(fx.postEnv), len(preArgs), noSuccessorVars, cmd)
	}
	fx.commandLine = strings.Join(strings.Fields(strings.Join(cmd, " ")), " ")
	fx.preArgs = append([]string(nil), fx.postArgs...)
	fx.preArgs[0] = HookPreFailover
	for i, v := range preArgs {
		fx.preArgs[i] = v
	}
	fx.preEnv = maps.Clone(fx.postEnv)
	for k := range fx.preEnv {
		if strings.HasPrefix(k, "ORC_SUCCESSOR_") {
			delete(fx.preEnv, k)
		}
	}
	maps.Copy(fx.preEnv, preEnv)
	return fx
}

func TestFixtureLayoutMatchesCommandLine(t *testing.T) {
	fx := loadFixture(t)
	if got := CommandLine("hook.sh", "<HookName>"); got != fx.commandLine {
		t.Errorf("recoup's layout differs from the fixture's hook command line:\n got %s\nwant %s", got, fx.commandLine)
	}
}
