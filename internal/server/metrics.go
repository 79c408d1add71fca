package server

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	sseClients    prometheus.Gauge
	sseDropped    prometheus.Counter
	auditFailures prometheus.Counter
	queueDepth    prometheus.Gauge
	granuleLat    prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atalaya_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "atalaya_http_request_duration_seconds", Help: "HTTP request durations by route pattern (SSE streams: their lifetime).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		sseClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "atalaya_sse_clients", Help: "Connected Server-Sent Events clients.",
		}),
		sseDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atalaya_sse_dropped_total", Help: "SSE clients dropped for falling behind.",
		}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atalaya_audit_failures_total", Help: "Audit log appends that failed.",
		}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "atalaya_queue_depth", Help: "Granule jobs waiting in the work queue.",
		}),
		granuleLat: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "atalaya_granule_processing_seconds", Help: "Time from a granule's recording to its completion.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 16),
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.sseClients, m.sseDropped, m.auditFailures, m.queueDepth, m.granuleLat,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// Metrics lets the parts started beside the server report into its
// registry.
type Metrics struct{ m *metrics }

// SetQueueDepth reports the work queue's depth.
func (m *Metrics) SetQueueDepth(n int) { m.m.queueDepth.Set(float64(n)) }

// ObserveGranule reports one granule's processing latency.
func (m *Metrics) ObserveGranule(d time.Duration) { m.m.granuleLat.Observe(d.Seconds()) }
