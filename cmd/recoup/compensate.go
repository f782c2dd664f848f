package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/applier"
	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

// compensateArgs are the flags shared by `recoup plan` and `recoup compensate`.
type compensateArgs struct {
	config, cluster, newMaster, policy string
	allowWritable                      bool
}

func parseCompensateArgs(name string, args []string, stderr io.Writer) (*compensateArgs, error) {
	fs := newFlagSet(name, stderr)
	a := &compensateArgs{}
	fs.StringVar(&a.config, "config", "recoup.yaml", "config file")
	fs.StringVar(&a.cluster, "cluster", "", "cluster name (required)")
	fs.StringVar(&a.newMaster, "new-master", "", "host:port of the new master (required)")
	fs.StringVar(&a.policy, "policy", "", "conflict policy: report, source-wins or abort (default: the cluster's)")
	if name == "compensate" {
		fs.BoolVar(&a.allowWritable, "allow-writable", false, "write even though the new master is not fenced (read_only=OFF)")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if a.cluster == "" || a.newMaster == "" {
		return nil, fmt.Errorf("%w: --cluster and --new-master are required", errUsage)
	}
	if err := validateHostPort(a.newMaster); err != nil {
		return nil, fmt.Errorf("%w: --new-master: %v", errUsage, err)
	}
	if a.policy != "" {
		if _, err := conflict.ParsePolicy(a.policy); err != nil {
			return nil, fmt.Errorf("%w: --policy: %v", errUsage, err)
		}
	}
	return a, nil
}

// runPlan is `recoup plan`: the dry run. It prints the result as JSON and
// changes nothing on the new master.
func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runCompensation(ctx, "plan", args, stdout, stderr)
}

// runCompensate is `recoup compensate`: it replays the missing transactions
// on the new master and prints the result as JSON.
func runCompensate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runCompensation(ctx, "compensate", args, stdout, stderr)
}

func runCompensation(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	a, err := parseCompensateArgs(name, args, stderr)
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(a.config)
	if err != nil {
		return err
	}
	cl, err := cfg.Cluster(a.cluster)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	log := newLogger(stderr, cfg.Log).With("cluster", cl.Name)
	opts := compensationOptions(cl, a)
	opts.Logger = log
	ctx, cancel := context.WithTimeout(ctx, cl.Compensate.Timeout)
	defer cancel()
	db, err := openNewMaster(cl, a.newMaster)
	if err != nil {
		return err
	}
	defer db.Close()
	store, err := openStore(ctx, cfg, cl.Name, true, log)
	if err != nil {
		return err
	}
	defer store.Close()
	var res *applier.Result
	if name == "plan" {
		res, err = applier.Plan(ctx, db, store, opts)
	} else {
		res, err = applier.Compensate(ctx, db, store, opts)
	}
	if res != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(res); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return fmt.Errorf("%s on %s: %w", name, a.newMaster, err)
	}
	return nil
}

func compensationOptions(cl *ClusterConfig, a *compensateArgs) applier.Options {
	flavor, _ := repl.ParseFlavor(cl.Flavor) // validated
	policy := cl.Compensate.Policy
	if a.policy != "" {
		policy = a.policy
	}
	p, _ := conflict.ParsePolicy(policy) // validated
	return applier.Options{
		Flavor:        flavor,
		Policy:        p,
		BatchTxns:     cl.Compensate.BatchTxns,
		Cluster:       cl.Name,
		AllowWritable: a.allowWritable,
	}
}

// openNewMaster connects to addr with the cluster's compensation
// credentials. The DSN is built in memory, never from text with the
// password in it.
func openNewMaster(cl *ClusterConfig, addr string) (*sql.DB, error) {
	user, pw, err := cl.CompensateCredentials()
	if err != nil {
		return nil, err
	}
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = user, pw, "tcp", addr
	mc.Timeout, mc.ReadTimeout, mc.WriteTimeout = 5*time.Second, time.Minute, time.Minute
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("new master %s: %w", addr, err)
	}
	return sql.OpenDB(conn), nil
}
