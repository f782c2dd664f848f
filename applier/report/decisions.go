package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// Actions a reviewer takes on a conflict.
const (
	ActionApply   = "apply"   // the old master's change was written on the new master
	ActionDiscard = "discard" // the new master's rows were kept
)

// Decision is one resolved conflict, as recorded in the decisions file
// next to the report (one JSON object per line, append-only).
type Decision struct {
	Conflict int       `json:"conflict"`
	GTID     string    `json:"gtid"`
	Action   string    `json:"action"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	// NewMaster is the server the change was applied to (apply only).
	NewMaster string `json:"new_master,omitempty"`
	// Forced is set when the row re-check failed and the reviewer
	// overrode it.
	Forced bool   `json:"forced,omitempty"`
	Note   string `json:"note,omitempty"`
}

// DecisionsPath is the decisions file of a report: x.json ->
// x.decisions.jsonl.
func DecisionsPath(jsonPath string) string {
	return strings.TrimSuffix(jsonPath, ".json") + ".decisions.jsonl"
}

// ErrReviewBusy is returned by LockDecisions when another reviewer holds
// the report's decisions lock.
var ErrReviewBusy = errors.New("another recoup review is resolving a conflict of this report")

// LockDecisions takes the report's decisions lock (an exclusive flock on
// <report>.decisions.lock, created if missing) for one resolve: read the
// decisions, re-check and apply, record. Two reviewers cannot then both
// apply the same conflict. It does not wait: a held lock is
// ErrReviewBusy. The lock ends with unlock, or with the process.
func LockDecisions(jsonPath string) (unlock func(), err error) {
	path := strings.TrimSuffix(jsonPath, ".json") + ".decisions.lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("opening the decisions lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is locked): try again when it has finished", ErrReviewBusy, path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	// Closing the descriptor releases the flock; nothing was written to
	// it, so a close error loses nothing.
	return func() { _ = f.Close() }, nil
}

// ReadDecisions loads a report's decisions by conflict number (the last
// one wins); no file means none.
func ReadDecisions(jsonPath string) (map[int]Decision, error) {
	f, err := os.Open(DecisionsPath(jsonPath))
	if errors.Is(err, fs.ErrNotExist) {
		return map[int]Decision{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading decisions: %w", err)
	}
	defer f.Close()
	out := map[int]Decision{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var d Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("decisions file %s line %d: %w", f.Name(), line, err)
		}
		out[d.Conflict] = d
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading decisions: %w", err)
	}
	return out, nil
}

// AppendDecision records d at the end of the report's decisions file,
// creating it, and syncs it to disk.
func AppendDecision(jsonPath string, d Decision) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encoding decision: %w", err)
	}
	f, err := os.OpenFile(DecisionsPath(jsonPath), os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("recording decision: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recording decision in %s: %w", DecisionsPath(jsonPath), err)
	}
	return nil
}
