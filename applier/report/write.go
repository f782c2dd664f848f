package report

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/recoup-dev/recoup/applier"
)

// fileMode: reports hold row data, so they are not world-readable.
const fileMode = 0o640

// Write builds the report of res and writes it into dir (created if
// needed) as <cluster>-<timestamp>-<id>.json and .html, returning both
// paths: see Save.
func Write(dir string, res *applier.Result, meta Meta) (jsonPath, htmlPath string, err error) {
	if res == nil {
		return "", "", errors.New("writing a report: no result")
	}
	return Save(dir, Build(res, meta, time.Now()))
}

// Save writes r into dir (created if needed) as
// <cluster>-<timestamp>-<id>.json and .html. The timestamp is
// r.Recovery.FinishedAt (r.GeneratedAt if zero) in UTC; the cluster name
// is reduced to [A-Za-z0-9._-]; the id, when r.ID is empty, is 8 random
// hex digits. Each file is written to a temporary name and renamed, so a
// reader never sees half a report; an existing report is never replaced.
func Save(dir string, r *Report) (jsonPath, htmlPath string, err error) {
	if r.ID == "" {
		if r.ID, err = shortID(); err != nil {
			return "", "", err
		}
	}
	at := r.Recovery.FinishedAt
	if at.IsZero() {
		at = r.GeneratedAt
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", "", fmt.Errorf("creating the report directory: %w", err)
	}
	base := filepath.Join(dir, SafeName(r.Cluster)+"-"+at.UTC().Format("20060102T150405Z")+"-"+SafeName(r.ID))
	jsonPath, htmlPath = base+".json", base+".html"
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("encoding the report: %w", err)
	}
	if err := writeNew(jsonPath, append(js, '\n')); err != nil {
		return "", "", err
	}
	if err := WriteHTML(htmlPath, r, nil); err != nil {
		return jsonPath, "", err
	}
	return jsonPath, htmlPath, nil
}

// WriteHTML (re)writes the page of r at path, atomically, showing
// decisions (nil for none): review calls it after each decision.
func WriteHTML(path string, r *Report, decisions map[int]Decision) error {
	var page bytes.Buffer
	if err := RenderHTML(&page, r, decisions); err != nil {
		return err
	}
	return replaceFile(path, page.Bytes())
}

// SafeName reduces a cluster name to [A-Za-z0-9._-] for a file name:
// every other byte becomes '_', a leading '.' too, and an empty name is
// "cluster".
func SafeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '.' || c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok || (i == 0 && c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "cluster"
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}

func shortID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making a report id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// writeNew writes data to path through a temporary file in the same
// directory, failing if path exists.
func writeNew(path string, data []byte) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("writing report %s: the file exists", path)
	}
	return replaceFile(path, data)
}

// replaceFile atomically sets path's content: temporary file, fsync,
// rename.
func replaceFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(fileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort: the write already failed
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	return nil
}

// Read loads a report written by Write, refusing other schema versions.
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading report: %w", err)
	}
	r, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	return r, nil
}

// parse decodes and checks a report's JSON.
func parse(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("schema %q, this recoup reads %q", r.Schema, SchemaVersion)
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// validate checks the cross references a reader relies on.
func (r *Report) validate() error {
	for i, c := range r.Conflicts {
		if c.N != i+1 {
			return fmt.Errorf("conflict %d is numbered %d", i+1, c.N)
		}
		for _, row := range c.Rows {
			if row.TableDef < -1 || row.TableDef >= len(r.Tables) {
				return fmt.Errorf("conflict %d row %d: table_def %d out of range", c.N, row.Index, row.TableDef)
			}
			if row.TableDef >= 0 && r.Tables[row.TableDef] == nil {
				return fmt.Errorf("conflict %d row %d: table_def %d is null", c.N, row.Index, row.TableDef)
			}
		}
	}
	return nil
}

// HTMLPath is the page that goes with a report's JSON file.
func HTMLPath(jsonPath string) string { return strings.TrimSuffix(jsonPath, ".json") + ".html" }
