package health

import (
	"sync"
	"time"
)

// DefaultHistorySamples is how many scraped samples ScrapeSource keeps per
// series: 180 refreshes, 15 minutes at the console's 5 s.
const DefaultHistorySamples = 180

// ring is a fixed-size buffer of points; the oldest is overwritten first.
type ring struct {
	pts  []Point
	next int
	full bool
}

func newRing(n int) *ring { return &ring{pts: make([]Point, n)} }

func (r *ring) add(p Point) {
	r.pts[r.next] = p
	r.next++
	if r.next == len(r.pts) {
		r.next, r.full = 0, true
	}
}

// points returns the points oldest first.
func (r *ring) points() []Point {
	if !r.full {
		return append([]Point(nil), r.pts[:r.next]...)
	}
	out := make([]Point, 0, len(r.pts))
	out = append(out, r.pts[r.next:]...)
	return append(out, r.pts[:r.next]...)
}

// scrapeHistory keeps the recent scraped figures of a ScrapeSource, bounded
// per series, so that sparklines work while Prometheus is down.
type scrapeHistory struct {
	mu      sync.Mutex
	size    int
	since   time.Time
	last    time.Time
	cpu     map[string]*ring // by host Name
	cluster map[string]*ring // cassandra_active, scalardl_blue, scalardl_green
}

func (h *scrapeHistory) series(m map[string]*ring, key string) *ring {
	r := m[key]
	if r == nil {
		r = newRing(h.size)
		m[key] = r
	}
	return r
}

// record adds a snapshot's figures.
func (h *scrapeHistory) record(s *Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.since.IsZero() {
		h.since = s.At
	}
	h.last = s.At
	for _, hh := range s.Hosts {
		if hh.CPU != nil {
			h.series(h.cpu, hh.Host.Name).add(Point{T: s.At, V: *hh.CPU})
		}
	}
	c := s.Cluster
	if c.CassandraTotal > 0 {
		h.series(h.cluster, "cassandra_active").add(Point{T: s.At, V: float64(c.CassandraActive)})
	}
	if c.ScalarDLBlueTotal > 0 {
		h.series(h.cluster, QScalarDLBlue).add(Point{T: s.At, V: float64(c.ScalarDLBlueActive)})
	}
	if c.ScalarDLGreenTotal > 0 {
		h.series(h.cluster, QScalarDLGreen).add(Point{T: s.At, V: float64(c.ScalarDLGreenActive)})
	}
}

// history returns what was recorded, as a History with Scraped set.
func (h *scrapeHistory) history() *History {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := &History{Start: h.since, End: h.last, CPU: map[string][]Point{}, Scraped: true}
	for name, r := range h.cpu {
		out.CPU[name] = r.points()
	}
	get := func(k string) []Point {
		if r := h.cluster[k]; r != nil {
			return r.points()
		}
		return nil
	}
	out.CassandraActive = get("cassandra_active")
	out.ScalarDLBlue = get(QScalarDLBlue)
	out.ScalarDLGreen = get(QScalarDLGreen)
	return out
}
