package logtest

import (
	"strings"
	"sync"
	"testing"
)

func TestBufferConcurrentWarnings(t *testing.T) {
	var b Buffer
	log := b.Logger()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("info", "i", i)
			log.Warn("careful", "i", i)
			log.Debug("hidden", "i", i)
		}()
	}
	wg.Wait()
	if w := b.Warnings(); len(w) != 8 || !strings.Contains(w[0], `msg=careful`) {
		t.Errorf("warnings = %q, want 8 lines with msg=careful", w)
	}
	if n := strings.Count(b.String(), "level=INFO"); n != 8 {
		t.Errorf("%d INFO lines, want 8", n)
	}
	if strings.Contains(b.String(), "hidden") {
		t.Error("a DEBUG line was logged")
	}
}
