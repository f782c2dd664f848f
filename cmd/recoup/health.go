package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// clusterHealth records the clusters whose capture stopped with an error
// that needs an operator (binlog purged past the captured position, an
// undecodable event, a full disk...). One cluster stopping does not stop
// the others; /healthz reports it.
type clusterHealth struct {
	mu      sync.Mutex
	stopped map[string]error
}

func newClusterHealth() *clusterHealth { return &clusterHealth{stopped: map[string]error{}} }

// stop records that cluster's capture ended with err.
func (h *clusterHealth) stop(cluster string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped[cluster] = err
}

// count is the number of stopped clusters.
func (h *clusterHealth) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.stopped)
}

// ServeHTTP is /healthz: 200 "ok" while every cluster captures, 503 with
// one line per stopped cluster otherwise.
func (h *clusterHealth) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	h.mu.Lock()
	lines := make([]string, 0, len(h.stopped))
	for name, err := range h.stopped {
		lines = append(lines, fmt.Sprintf("cluster %s: capture stopped: %v", name, err))
	}
	h.mu.Unlock()
	if len(lines) == 0 {
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	sort.Strings(lines)
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(strings.Join(lines, "\n") + "\n"))
}
