package hook

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/recoup-dev/recoup/applier"
	"github.com/recoup-dev/recoup/applier/report"
	"github.com/recoup-dev/recoup/capture"
)

// compensator is Compensator over applier.Compensate and report.Write.
type compensator struct {
	db   *sql.DB
	open func(ctx context.Context) (capture.Store, error)
	opts applier.Options
	dir  string
	last *applier.Result
}

func (c *compensator) Compensate(ctx context.Context) (*ResultInfo, error) {
	st, err := c.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening the capture log: %w", err)
	}
	defer st.Close()
	res, err := applier.Compensate(ctx, c.db, st, c.opts)
	c.last = res
	return NewResultInfo(res), err
}

// WriteReport writes the JSON and HTML reports of the last run into the
// report directory, with the hook's steps.
func (c *compensator) WriteReport(sum *Summary) ([]string, error) {
	if c.last == nil {
		return nil, nil
	}
	meta := report.Meta{RecoveryUID: sum.RecoveryUID, OldMaster: sum.OldMaster, NewMaster: sum.NewMaster,
		Started: sum.Started, Finished: sum.Started.Add(secondsDuration(sum.DurationS))}
	for _, st := range sum.Steps {
		detail := st.Note
		if st.Error != "" {
			detail = st.Error
		}
		meta.Steps = append(meta.Steps, report.Step{Step: st.Name, MS: st.TookMS, OK: st.Error == "", Detail: detail})
	}
	for _, l := range sum.Left {
		meta.Steps = append(meta.Steps, report.Step{Step: "left-to-do", Detail: l})
	}
	j, h, err := report.Write(c.dir, c.last, meta)
	var paths []string
	for _, p := range []string{j, h} {
		if p != "" {
			paths = append(paths, p)
		}
	}
	return paths, err
}

func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
