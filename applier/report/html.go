package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/recoup-dev/recoup/repl"
)

//go:embed page.html.tmpl
var pageTemplate string

// maxPageTxns caps the list of every missing transaction on the page (the
// JSON has them all).
const maxPageTxns = 2000

// maxPageConflicts caps the conflicts detailed on the page (policy abort
// can make every transaction one); `recoup review` reads them all.
const maxPageConflicts = 500

// maxCellBytes caps a value shown in a cell (the JSON has it whole).
const maxCellBytes = 400

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 MST")
	},
	"ms":   func(f float64) string { return fmt.Sprintf("%.1f ms", f) },
	"orNA": func(s string) string { return or(s, "—") },
}).Parse(pageTemplate))

// pageData is what the template renders.
type pageData struct {
	R          *Report
	Open       int // conflicts still to resolve
	Conflicts  []conflictView
	Txns       []TxnSummary
	TxnsHidden int
	// ConflictsHidden counts conflicts past maxPageConflicts.
	ConflictsHidden int
}

type conflictView struct {
	*Conflict
	DependsAnchor string
	Decided       *Decision
	Rows          []rowView
	Script        Script
}

type rowView struct {
	*Row
	Cells       []cellRow
	CurrentNote string
	ShowCurrent bool
	Open        bool // shown unfolded: the row conflicts
}

// cellRow is one column of a row's side-by-side images.
type cellRow struct {
	Name                   string
	Key, Generated         bool
	Before, After, Current cell
}

type cell struct {
	Text, Title, Class string
	None               bool // the image does not exist
}

// RenderHTML writes the self-contained page of r: inline CSS, no script,
// no external resource (a Content-Security-Policy forbids any). Every
// value is escaped by html/template. decisions, when given, are shown with
// their conflicts.
func RenderHTML(w io.Writer, r *Report, decisions map[int]Decision) error {
	d := pageData{R: r, Txns: r.Transactions}
	if len(d.Txns) > maxPageTxns {
		d.Txns, d.TxnsHidden = d.Txns[:maxPageTxns], len(d.Txns)-maxPageTxns
	}
	byGTID := make(map[string]int, len(r.Conflicts))
	for _, c := range r.Conflicts {
		byGTID[c.GTID] = c.N
	}
	for i := range r.Conflicts {
		c := &r.Conflicts[i]
		dec, decided := decisions[c.N]
		if !decided && c.Resolvable {
			d.Open++
		}
		if len(d.Conflicts) == maxPageConflicts {
			d.ConflictsHidden++
			continue
		}
		v := conflictView{Conflict: c, Script: r.ScriptFor(c)}
		if decided {
			v.Decided = &dec
		}
		if n, ok := byGTID[c.DependsOn]; ok && c.DependsOn != "" {
			v.DependsAnchor = fmt.Sprintf("#c%d", n)
		}
		for j := range c.Rows {
			v.Rows = append(v.Rows, r.rowView(&c.Rows[j]))
		}
		d.Conflicts = append(d.Conflicts, v)
	}
	if err := page.Execute(w, d); err != nil {
		return fmt.Errorf("rendering the report page: %w", err)
	}
	return nil
}

func (r *Report) rowView(row *Row) rowView {
	v := rowView{Row: row, ShowCurrent: true, Open: row.Verdict != "apply" && row.Verdict != "already-applied"}
	cur, expect := row.CurrentImage(), row.ExpectedImage()
	switch row.CurrentState {
	case CurrentBefore:
		v.CurrentNote = "equal to the before-image"
	case CurrentAfter:
		v.CurrentNote = "equal to the after-image"
	case CurrentAbsent:
		v.CurrentNote, v.ShowCurrent = "no such row on the new master", false
	case CurrentNotChecked:
		v.CurrentNote, v.ShowCurrent = "not read by the run (see the reason)", false
	}
	var def *repl.Table
	if row.TableDef >= 0 && row.TableDef < len(r.Tables) {
		def = r.Tables[row.TableDef]
	}
	for i, name := range row.ColumnNames() {
		c := cellRow{Name: name}
		if def != nil && i < len(def.Columns) {
			c.Key = isKey(def, i)
			c.Generated = def.Columns[i].Generated != ""
		}
		c.Before = cellOf(row.Before, i)
		c.After = cellOf(row.After, i)
		if row.Before != nil && row.After != nil && !valueAt(row.Before, i).Equal(valueAt(row.After, i)) {
			c.After.Class += " changed"
		}
		if v.ShowCurrent {
			c.Current = cellOf(cur, i)
			if expect != nil && cur != nil && !valueAt(cur, i).Equal(valueAt(expect, i)) {
				c.Current.Class += " differs"
			}
		}
		v.Cells = append(v.Cells, c)
	}
	return v
}

func isKey(t *repl.Table, i int) bool {
	for _, k := range t.KeyColumns() {
		if k == i {
			return true
		}
	}
	return false
}

func valueAt(im *Image, i int) repl.Value {
	if im == nil || i >= len(im.Values) {
		return repl.Value{}
	}
	return im.Values[i]
}

func cellOf(im *Image, i int) cell {
	if im == nil || i >= len(im.Values) {
		return cell{None: true}
	}
	return display(im.Values[i])
}

// display renders a value for the page: text when it is readable, hex
// otherwise, truncated past maxCellBytes.
func display(v repl.Value) cell {
	c := cell{Title: v.Kind().String()}
	switch v.Kind() {
	case repl.KindNull:
		return cell{Text: "NULL", Title: "NULL", Class: "null"}
	case repl.KindString, repl.KindJSON:
		if v.Charset() != "" {
			c.Title += " " + v.Charset()
		}
		if utf8.Valid(v.Bytes()) && (v.Kind() == repl.KindJSON || isUTF8(v.Charset())) {
			c.Text, c.Class = clip(v.Text(), len(v.Bytes())), "str"
			return c
		}
		if text, ok := latin1Text(v); ok {
			c.Text, c.Class = clip(text, len(v.Bytes())), "str"
			return c
		}
		c.Text, c.Class = clip(fmt.Sprintf("0x%X", v.Bytes()), len(v.Bytes())), "hex"
		return c
	case repl.KindBytes, repl.KindGeometry:
		c.Text, c.Class = clip(fmt.Sprintf("0x%X", v.Bytes()), len(v.Bytes())), "hex"
		return c
	case repl.KindEnum, repl.KindSet:
		c.Title += fmt.Sprintf(" (%d)", v.Uint())
		c.Text = v.Text()
		return c
	}
	c.Text = v.String()
	return c
}

// latin1Text decodes a latin1 string for display when it holds no byte
// where MySQL's latin1 (cp1252) and ISO-8859-1 differ (0x80-0x9f).
func latin1Text(v repl.Value) (string, bool) {
	if v.Charset() != "latin1" {
		return "", false
	}
	r := make([]rune, 0, len(v.Bytes()))
	for _, b := range v.Bytes() {
		if b >= 0x80 && b <= 0x9f {
			return "", false
		}
		r = append(r, rune(b))
	}
	return string(r), true
}

func isUTF8(cs string) bool {
	return cs == "utf8mb4" || cs == "utf8mb3" || cs == "utf8" || cs == "ascii"
}

func clip(s string, n int) string {
	if len(s) <= maxCellBytes {
		return s
	}
	cut := maxCellBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf(" … (%d bytes; the exact value is in the JSON report)", n)
}

func or(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// DisplayValue is v as the page shows it: readable text, or 0x-hex for
// bytes that are not text (truncated past a few hundred bytes). It is
// untrusted data: escape it for the medium it goes to.
func DisplayValue(v repl.Value) string { return display(v).Text }
