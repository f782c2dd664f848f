package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/hook"
	"github.com/recoup-dev/recoup/hook/route"
	"github.com/recoup-dev/recoup/repl"
)

// hardMargin is added to the hook's budget (deadline + grace) for the
// process-wide bound: past it the process exits whatever it is doing, so
// Orchestrator, which waits for hooks without a timeout, is never stuck.
const hardMargin = 5 * time.Second

// exitHardLimit is the exit status when the hard bound fires.
const exitHardLimit = 3

// errHookNotDone marks a run that did not open writes on a compensated
// master; the summary on stdout says why.
var errHookNotDone = errors.New("writes are not open on a compensated master")

// runHook is `recoup hook --config F <HookName> <Orchestrator arguments>`:
// Orchestrator's recovery hook. See hook.ParseInput for the arguments and
// hook.Sequence for what it does. It exits 0 only when writes are open on
// a compensated master, or when it had nothing to do. In
// PreFailoverProcesses it always exits 0: a failing pre-failover hook
// makes Orchestrator abort the recovery.
func runHook(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	start := time.Now()
	fs := newFlagSet("hook", stderr)
	cfgPath := fs.String("config", "recoup.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	hookArgs := fs.Args()
	err := hookMain(ctx, start, *cfgPath, hookArgs, stdout, stderr)
	if err != nil && len(hookArgs) > 0 && hookArgs[0] == hook.HookPreFailover {
		fmt.Fprintf(stderr, "recoup hook: %s: %v (exiting 0 so that Orchestrator's recovery goes on)\n", hook.HookPreFailover, err)
		return nil
	}
	return err
}

func hookMain(ctx context.Context, start time.Time, cfgPath string, args []string, stdout, stderr io.Writer) error {
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log).With("hook", firstArg(args))
	in, err := hook.ParseInput(args, environ())
	if err != nil {
		return err
	}
	for _, w := range in.Warnings {
		log.Warn("hook input", "warning", w)
	}
	act := in.Action()
	if act.Kind == hook.ActionIgnore {
		log.Info("nothing to do", "reason", act.Reason)
		return nil
	}
	log.Info("acting", "action", act.Kind.String(), "reason", act.Reason)
	cl, err := cfg.Cluster(in.FailureClusterAlias)
	if err != nil {
		return fmt.Errorf("cluster alias %s from Orchestrator: %w", in.FailureClusterAlias, err)
	}
	limit := cfg.Hook.Budget().Limit() + hardMargin
	watchdog := time.AfterFunc(limit-time.Since(start), func() {
		fmt.Fprintf(stderr, "recoup hook: hard time limit %s exceeded; exiting with status %d\n", limit, exitHardLimit)
		os.Exit(exitHardLimit)
	})
	defer watchdog.Stop()
	env, err := hookEnv(cfg, cl, log)
	if err != nil {
		return err
	}
	env.Started = start
	if act.Kind == hook.ActionPreFailover {
		if env.Router != nil {
			defer env.Router.Close() // unused before the promotion
		}
		return preFailover(ctx, in, env, stdout)
	}
	return compensateFailover(ctx, in, env, stdout)
}

func preFailover(ctx context.Context, in hook.Input, env hook.Env, stdout io.Writer) error {
	f := hook.PreFailover(ctx, in, env)
	if f.Reached {
		_, err := fmt.Fprintf(stdout, "recoup hook: %s: old master %s fenced (read_only), %d client connections killed, position %s\n",
			in.HookName, in.Failed(), f.Killed, f.Position)
		return err
	}
	_, err := fmt.Fprintf(stdout, "recoup hook: %s: old master %s not fenced: %s\n", in.HookName, in.Failed(), f.Error)
	return err
}

func compensateFailover(ctx context.Context, in hook.Input, env hook.Env, stdout io.Writer) error {
	seq, closeSeq, err := hook.NewFailover(in, env)
	if err != nil {
		return err
	}
	defer closeSeq()
	sum := seq.Run(ctx)
	if err := sum.Print(stdout); err != nil {
		return err
	}
	if sum.ExitCode() != 0 {
		return fmt.Errorf("%w: %s", errHookNotDone, sum.Outcome)
	}
	return nil
}

// hookEnv resolves the cluster's configuration into what the hook needs.
func hookEnv(cfg *Config, cl *ClusterConfig, log *slog.Logger) (hook.Env, error) {
	flavor, _ := repl.ParseFlavor(cl.Flavor) // validated
	user, pw, err := cl.CompensateCredentials()
	if err != nil {
		return hook.Env{}, err
	}
	budget := cfg.Hook.Budget()
	env := hook.Env{
		Flavor: flavor, Budget: budget, Log: log, CaptureWait: cfg.Hook.CaptureWait,
		Connect: func(addr string, timeout time.Duration) (*sql.DB, error) {
			return connectHook(user, pw, addr, timeout, budget.Limit())
		},
		OpenStore: func(ctx context.Context) (capture.Store, error) {
			return openStore(ctx, cfg, cl.Name, true, log)
		},
		Applier:   compensationOptions(cl, &compensateArgs{}),
		ReportDir: cfg.Hook.ReportDir,
		StateDir:  cfg.Hook.StateDir,
	}
	env.Applier.Logger = log
	if env.ReportDir == "" {
		env.ReportDir = cl.Compensate.ReportDir
	}
	if env.StateDir == "" {
		env.StateDir = filepath.Join(env.ReportDir, "hook-runs")
	}
	if err := hookRouting(&env, cfg.Hook.Routing(cl.Name), log); err != nil {
		return hook.Env{}, err
	}
	if cfg.Hook.AdminURL != "" {
		tok, err := cfg.Hook.AdminToken()
		if err != nil {
			return hook.Env{}, err
		}
		env.Admin = &hook.Admin{URL: cfg.Hook.AdminURL, Token: tok}
	}
	return env, nil
}

func hookRouting(env *hook.Env, r HookRouting, log *slog.Logger) error {
	env.Probe = hook.Probe{Addr: r.Probe.WriterAddr, Interval: r.Probe.Interval}
	if !r.Proxy.Enabled() {
		return nil
	}
	router, err := route.New(r.Proxy, log)
	if err != nil {
		return fmt.Errorf("hook proxy: %w", err)
	}
	env.Router = router
	env.SetReaders = r.Proxy.Kind != route.KindHAProxy || r.Proxy.HAProxy.ReaderBackend != ""
	if r.SetReaders != nil {
		env.SetReaders = *r.SetReaders
	}
	return nil
}

// connectHook returns a pool for addr with the hook's credentials; the DSN
// is built in memory, never from text holding the password.
func connectHook(user, pw, addr string, dial, io time.Duration) (*sql.DB, error) {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = user, pw, "tcp", addr
	mc.Timeout, mc.ReadTimeout, mc.WriteTimeout = dial, io, io
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return sql.OpenDB(conn), nil
}

// environ is the process environment as a map (ParseInput reads ORC_*).
func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
