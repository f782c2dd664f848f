package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/recoup-dev/recoup/repl"
)

// Image is one row image: its column names and exact values, in column
// order. It marshals as a JSON object of column name to repl.Value JSON
// ({"kind": ..., "text"|"hex": ..., "charset": ...}, or null for NULL),
// keeping the column order.
type Image struct {
	Columns []string
	Values  repl.Row
}

// Value returns the value of the named column.
func (im *Image) Value(name string) (repl.Value, bool) {
	for i, c := range im.Columns {
		if c == name && i < len(im.Values) {
			return im.Values[i], true
		}
	}
	return repl.Value{}, false
}

// MarshalJSON writes the ordered object.
func (im *Image) MarshalJSON() ([]byte, error) {
	if len(im.Columns) != len(im.Values) {
		return nil, fmt.Errorf("image has %d columns and %d values", len(im.Columns), len(im.Values))
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range im.Values {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(im.Columns[i])
		if err != nil {
			return nil, err
		}
		val, err := v.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", im.Columns[i], err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads the ordered object back.
func (im *Image) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("image: want a JSON object")
	}
	im.Columns, im.Values = nil, nil
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("image: %w", err)
		}
		name, _ := tok.(string)
		if seen[name] {
			return fmt.Errorf("image: column %q appears twice", name)
		}
		seen[name] = true
		var v repl.Value
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("image column %s: %w", name, err)
		}
		im.Columns = append(im.Columns, name)
		im.Values = append(im.Values, v)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}

// newImage copies an applier image; nil stays nil.
func newImage(cols []string, vals repl.Row) *Image {
	if vals == nil {
		return nil
	}
	names := make([]string, len(vals))
	for i := range vals {
		names[i] = fmt.Sprintf("#%d", i)
		if i < len(cols) {
			names[i] = cols[i]
		}
	}
	return &Image{Columns: names, Values: append(repl.Row(nil), vals...)}
}
