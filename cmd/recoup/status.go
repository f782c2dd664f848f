package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/recoup-dev/recoup/capture"
)

// clusterStatus is one line of `recoup status`.
type clusterStatus struct {
	Cluster    string     `json:"cluster"`
	Records    int64      `json:"records"`
	Captured   string     `json:"captured"`
	LastGTID   string     `json:"last_gtid,omitempty"`
	LastCommit *time.Time `json:"last_commit,omitempty"`
	// LagSeconds is now minus the commit time of the last captured
	// transaction: an upper bound on capture lag (it also grows while the
	// master is idle).
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	Master     string   `json:"master,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// runStatus is `recoup status`: per cluster, the captured position and the
// lag, read from the capture log itself (it works whether or not the daemon
// runs).
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", stderr)
	path := fs.String("config", "recoup.yaml", "config file")
	asJSON := fs.Bool("json", false, "print JSON lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log)
	failed := 0
	for _, cl := range cfg.Clusters {
		st := statusOf(ctx, cfg, cl.Name, log, time.Now())
		if st.Error != "" {
			failed++
		}
		if *asJSON {
			if err := json.NewEncoder(stdout).Encode(st); err != nil {
				return err
			}
			continue
		}
		printStatus(stdout, st)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d clusters could not be read", failed, len(cfg.Clusters))
	}
	return nil
}

func statusOf(ctx context.Context, cfg *Config, cluster string, log *slog.Logger, now time.Time) clusterStatus {
	st := clusterStatus{Cluster: cluster}
	store, err := openStore(ctx, cfg, cluster, true, log)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	defer store.Close()
	first, next, err := store.Bounds(ctx)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	st.Records = next - first
	last, ok, err := store.Last(ctx)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	if !ok {
		return st
	}
	st.Captured, st.Master = last.After.String(), last.Master
	if last.Kind == capture.KindTxn {
		ct := last.CommitTime.UTC()
		lag := now.Sub(ct).Seconds()
		st.LastGTID, st.LastCommit, st.LagSeconds = last.GTID.String(), &ct, &lag
	}
	return st
}

func printStatus(w io.Writer, st clusterStatus) {
	switch {
	case st.Error != "":
		fmt.Fprintf(w, "%s\tERROR\t%s\n", st.Cluster, st.Error)
	case st.LagSeconds != nil:
		fmt.Fprintf(w, "%s\tcaptured %s\tlast %s at %s (%.1fs ago)\trecords %d\tmaster %s\n",
			st.Cluster, st.Captured, st.LastGTID, st.LastCommit.Format(time.RFC3339), *st.LagSeconds, st.Records, st.Master)
	default:
		fmt.Fprintf(w, "%s\tcaptured %q\trecords %d\n", st.Cluster, st.Captured, st.Records)
	}
}
