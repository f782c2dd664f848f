package report

import (
	"encoding/json"
	"io"
	"testing"
)

// FuzzImageJSON: any image the decoder accepts encodes and decodes back
// to the same columns and exactly the same values.
func FuzzImageJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"id":{"kind":"int","text":"1"},"n":null}`,
		`{"s":{"kind":"string","hex":"e9","charset":"latin1"},"b":{"kind":"bytes","hex":"00ff"}}`,
		`{"e":{"kind":"enum","text":"paid","num":"2"},"f":{"kind":"float32","text":"0.1"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var im Image
		if err := json.Unmarshal(b, &im); err != nil {
			return
		}
		out, err := json.Marshal(&im)
		if err != nil {
			t.Fatalf("an accepted image does not encode: %v", err)
		}
		var back Image
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if !slicesEqual(back.Columns, im.Columns) || !back.Values.Equal(im.Values) {
			t.Fatalf("round trip changed the image: %s", out)
		}
	})
}

// FuzzReport: a report file review accepts, however edited, never makes
// review or the page panic.
func FuzzReport(f *testing.F) {
	good, err := json.Marshal(fixtureReport())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"schema":"recoup.report/v1","conflicts":[{"n":1,"rows":[{"table_def":0}]}]}`))
	f.Add([]byte(`{"schema":"recoup.report/v1","flavor":"mariadb","tables":[null],"conflicts":[{"n":1,"gtid":"0-1-1","rows":[{"table_def":-1,"change":"update"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parse(b)
		if err != nil {
			return
		}
		for i := range r.Conflicts {
			c := &r.Conflicts[i]
			_ = r.ScriptFor(c)
			if txn, err := r.Txn(c); err == nil && len(txn.Changes) != len(c.Rows) {
				t.Fatalf("conflict %d: %d changes for %d rows", c.N, len(txn.Changes), len(c.Rows))
			}
		}
		if err := RenderHTML(io.Discard, r, nil); err != nil {
			t.Fatalf("an accepted report does not render: %v", err)
		}
	})
}
