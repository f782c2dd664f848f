package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// RecordAt reads the first record at an offset in [from, below): the probe
// of a binary search over a log's offsets (records' After only grows). ok
// is false when the log holds no record there.
func RecordAt(ctx context.Context, store Store, from, below int64) (rec Record, ok bool, err error) {
	r, err := store.ReadFrom(ctx, from)
	if err != nil {
		return Record{}, false, fmt.Errorf("reading the capture log at offset %d: %w", from, err)
	}
	defer r.Close()
	rec, err = r.Next(ctx)
	switch {
	case errors.Is(err, io.EOF):
		return Record{}, false, nil
	case err != nil:
		return Record{}, false, fmt.Errorf("reading the capture log at offset %d: %w", from, err)
	}
	return rec, rec.Offset < below, nil
}
