package applier

import (
	"errors"
	"log/slog"
	"time"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

// DefaultBatchTxns is the number of transactions whose rows are read and
// decided together when Options.BatchTxns is 0.
const DefaultBatchTxns = 100

// resetTimeout bounds the statements that clean a session up after a
// rollback, which run even when the run's context has expired.
const resetTimeout = 5 * time.Second

// Options configure a Plan or Compensate run.
type Options struct {
	// Flavor is the cluster's server family (required).
	Flavor repl.Flavor
	// Policy is the cluster's conflict policy: report (default),
	// source-wins or abort.
	Policy conflict.Policy
	// BatchTxns is how many missing transactions are read and decided per
	// batch (default DefaultBatchTxns).
	BatchTxns int
	// Cluster names the cluster in the result and in logs.
	Cluster string
	// AllowWritable lets Compensate write to a new master whose read_only
	// is OFF. Without it Compensate refuses: clients writing while recoup
	// checks and replays rows would race the conflict checks.
	AllowWritable bool
	// Logger receives progress and warnings (default slog.Default()).
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, *slog.Logger, error) {
	if o.Flavor != repl.MariaDB && o.Flavor != repl.MySQL {
		return o, nil, errors.New("applier options: Flavor must be mariadb or mysql")
	}
	p, err := conflict.ParsePolicy(string(o.Policy))
	if err != nil {
		return o, nil, err
	}
	o.Policy = p
	if o.BatchTxns <= 0 {
		o.BatchTxns = DefaultBatchTxns
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	log := o.Logger.With("cluster", o.Cluster)
	return o, log, nil
}
