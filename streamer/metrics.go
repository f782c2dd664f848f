package streamer

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are one streamer's Prometheus series, all labelled with the
// cluster. They are registered on the registry given to New, never on the
// global one.
type metrics struct {
	txns       prometheus.Counter
	rowsEvents prometheus.Counter
	bytes      prometheus.Counter
	appendLat  prometheus.Histogram
	ackHold    prometheus.Histogram
	reconnects prometheus.Counter
	connected  prometheus.Gauge
	position   *prometheus.GaugeVec

	mu      sync.Mutex
	lastPos string
}

func newMetrics(reg prometheus.Registerer, cluster string, lag func() float64) (*metrics, error) {
	labels := prometheus.Labels{"cluster": cluster}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "recoup", Subsystem: "capture", Name: name, Help: help, ConstLabels: labels}
	}
	m := &metrics{
		txns:       prometheus.NewCounter(prometheus.CounterOpts(opts("transactions_total", "Transactions made durable in the capture log."))),
		rowsEvents: prometheus.NewCounter(prometheus.CounterOpts(opts("row_events_total", "Row events (one per statement and table, each holding one or more rows) made durable."))),
		bytes:      prometheus.NewCounter(prometheus.CounterOpts(opts("event_bytes_total", "Raw binlog event bytes made durable."))),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts(opts("reconnects_total", "Connection attempts after a lost or refused connection to the master."))),
		connected:  prometheus.NewGauge(prometheus.GaugeOpts(opts("connected", "1 while the streamer is reading the master's binlog."))),
		appendLat: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "recoup", Subsystem: "capture", Name: "append_seconds", ConstLabels: labels,
			Help:    "Latency of one group commit (Store.Append).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		ackHold: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "recoup", Subsystem: "capture", Name: "semisync_ack_hold_seconds", ConstLabels: labels,
			Help:    "How long each semi-synchronous acknowledgement the master asked for was held until its transaction was durable (semi_sync only; the count is the acknowledgements sent).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		position: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("position_info",
			"Always 1; the gtid label is the durable captured position.")), []string{"gtid"}),
	}
	lagGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("lag_seconds",
		"Now minus the commit time of the last durable transaction; 0 once caught up with an idle master.")), lag)
	for _, c := range []prometheus.Collector{m.txns, m.rowsEvents, m.bytes, m.reconnects, m.connected, m.appendLat, m.ackHold, m.position, lagGauge} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering capture metrics for cluster %s: %w", cluster, err)
		}
	}
	return m, nil
}

func (m *metrics) appended(d time.Duration, txns, rowsEvents, bytes int, pos string) {
	m.appendLat.Observe(d.Seconds())
	m.txns.Add(float64(txns))
	m.rowsEvents.Add(float64(rowsEvents))
	m.bytes.Add(float64(bytes))
	m.setPosition(pos)
}

func (m *metrics) setPosition(pos string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pos == m.lastPos {
		return
	}
	m.position.Reset()
	m.position.WithLabelValues(pos).Set(1)
	m.lastPos = pos
}

func (m *metrics) setConnected(up bool) {
	if up {
		m.connected.Set(1)
		return
	}
	m.connected.Set(0)
}
