package capture

import "os"

// Test-only access to Local's internals for the external test package.

// SegmentFile is what Append needs of the active segment.
type SegmentFile = segmentFile

// WithFileWrapper returns opts with the active segment file wrapped by
// wrap, to inject write, fsync and truncate errors.
func WithFileWrapper(opts LocalOptions, wrap func(*os.File) SegmentFile) LocalOptions {
	opts.wrapFile = wrap
	return opts
}

// Dir returns the store's directory.
func (l *Local) Dir() string { return l.dir }
