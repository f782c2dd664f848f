// Command recoup makes MySQL/MariaDB failover lose nothing. See README.md.
//
// main only parses the command line, loads the config, wires components
// and runs them; the work lives in the packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"stream":     {"run the capture daemon: recoup stream --config recoup.yaml", runStream},
		"status":     {"per cluster, the captured position and lag: recoup status --config recoup.yaml", runStatus},
		"log":        {"print captured transactions as JSON lines: recoup log --config F --cluster C [--from GTID] [--table T]", runLog},
		"plan":       {"dry run of compensation, changes nothing: recoup plan --config F --cluster C --new-master host:port", runPlan},
		"compensate": {"replay what the new master lacks: recoup compensate --config F --cluster C --new-master host:port", runCompensate},
		"hook":       {"Orchestrator's failover hook: recoup hook --config F <HookName> <Orchestrator arguments>", runHook},
		"review":     {"list, show and resolve the conflicts of a compensation report: recoup review list|show|resolve --report F.json [N]", runReview},
		"version": {"print the version", func(_ context.Context, _ []string, out, _ io.Writer) error {
			_, err := fmt.Fprintln(out, version)
			return err
		}},
	}
}

// errUsage marks command-line mistakes: exit status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		return 2
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "recoup: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "recoup %s: %v\n", args[0], err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: recoup <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("recoup "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// newLogger builds the process logger from the config's log section.
func newLogger(w io.Writer, c LogConfig) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level)) // validated by Config.Validate
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
