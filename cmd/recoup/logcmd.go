package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
)

// runLog is `recoup log`: the captured transactions of one cluster as JSON
// lines, decoded with the schema recorded with them (no server access).
func runLog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log", stderr)
	path := fs.String("config", "recoup.yaml", "config file")
	cluster := fs.String("cluster", "", "cluster name (required)")
	from := fs.String("from", "", "start at this GTID (default: the oldest retained record)")
	table := fs.String("table", "", "only transactions touching schema.table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cluster == "" {
		return fmt.Errorf("%w: --cluster is required", errUsage)
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		return err
	}
	cl, err := cfg.Cluster(*cluster)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	flavor, _ := repl.ParseFlavor(cl.Flavor)
	var start repl.GTID
	if *from != "" {
		if start, err = repl.ParseGTID(flavor, *from); err != nil {
			return fmt.Errorf("%w: --from: %v", errUsage, err)
		}
	}
	store, err := openStore(ctx, cfg, cl.Name, true, newLogger(stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer store.Close()
	return printLog(ctx, store, start, *table, stdout)
}

func printLog(ctx context.Context, store capture.Store, from repl.GTID, table string, w io.Writer) error {
	first, _, err := store.Bounds(ctx)
	if err != nil {
		return err
	}
	r, err := store.ReadFrom(ctx, first)
	if err != nil {
		return err
	}
	defer r.Close()
	r = capture.Dedupe(r)
	enc := json.NewEncoder(w)
	started := from.IsZero()
	for {
		rec, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !started {
			if rec.Kind != capture.KindTxn || rec.GTID != from {
				continue
			}
			started = true
		}
		line, keep, err := logLine(rec, table)
		if err != nil {
			return fmt.Errorf("record at offset %d: %w", rec.Offset, err)
		}
		if keep {
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
	}
}

// logEntry is one line of `recoup log`.
type logEntry struct {
	Offset     int64        `json:"offset"`
	Kind       string       `json:"kind"`
	GTID       string       `json:"gtid,omitempty"`
	ServerID   uint32       `json:"server_id,omitempty"`
	CommitTime *time.Time   `json:"commit_time,omitempty"`
	Start      string       `json:"start,omitempty"`
	End        string       `json:"end,omitempty"`
	Master     string       `json:"master,omitempty"`
	From       string       `json:"from,omitempty"`
	To         string       `json:"to,omitempty"`
	Connected  *bool        `json:"connected,omitempty"`
	After      repl.GTIDSet `json:"captured"`
	Changes    []logChange  `json:"changes,omitempty"`
	Statements []string     `json:"statements,omitempty"`
	// Tables names the tables of a schema snapshot (uncertain ones with a
	// trailing "?").
	Tables []string `json:"tables,omitempty"`
}

type logChange struct {
	Table  string                `json:"table"`
	Type   string                `json:"type"`
	Before map[string]repl.Value `json:"before,omitempty"`
	After  map[string]repl.Value `json:"after,omitempty"`
}

func logLine(rec capture.Record, table string) (logEntry, bool, error) {
	e := logEntry{Offset: rec.Offset, Kind: rec.Kind.String(), Master: rec.Master, After: rec.After}
	switch rec.Kind {
	case capture.KindMasterSwitch:
		e.From, e.To = rec.From, rec.To
		return e, table == "", nil
	case capture.KindMasterState:
		e.Connected = &rec.Connected
		if !rec.GTID.IsZero() {
			e.GTID = rec.GTID.String()
		}
		return e, table == "", nil
	case capture.KindSchema:
		for _, ts := range rec.Tables {
			name := ts.Table.QualifiedName()
			if ts.Uncertain {
				name += "?"
			}
			e.Tables = append(e.Tables, name)
		}
		return e, table == "", nil
	}
	txn, err := streamer.DecodeTxn(rec)
	if err != nil {
		return e, false, err
	}
	ct := txn.CommitTime.UTC()
	e.GTID, e.ServerID, e.CommitTime = txn.GTID.String(), txn.ServerID, &ct
	e.Start = fmt.Sprintf("%s:%d", txn.Start.File, txn.Start.Pos)
	e.End = fmt.Sprintf("%s:%d", txn.End.File, txn.End.Pos)
	keep := table == ""
	for _, ch := range txn.Changes {
		name := ch.Table.QualifiedName()
		keep = keep || name == table
		e.Changes = append(e.Changes, logChange{Table: name, Type: ch.Type().String(),
			Before: rowMap(ch.Table, ch.Before), After: rowMap(ch.Table, ch.After)})
	}
	for _, st := range txn.Statements {
		e.Statements = append(e.Statements, st.Query)
	}
	return e, keep, nil
}

func rowMap(t *repl.Table, r repl.Row) map[string]repl.Value {
	if r == nil {
		return nil
	}
	m := make(map[string]repl.Value, len(r))
	for i, v := range r {
		name := fmt.Sprintf("@%d", i+1)
		if i < len(t.Columns) && t.Columns[i].Name != "" {
			name = t.Columns[i].Name
		}
		m[name] = v
	}
	return m
}
