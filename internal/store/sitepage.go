package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SiteOrder is the order of a SitesPage.
type SiteOrder int

const (
	// ByID orders sites by id (GET /sites).
	ByID SiteOrder = iota
	// ByQueue orders the open sites (candidate or revisit) most probable
	// first, then the least surveyed, then by id (the review queue). Only
	// open sites are selected, whatever Statuses says.
	ByQueue
)

// SiteKey is the position of a site in a SitesPage order: a page starts
// after it (keyset pagination). The zero key is the start.
type SiteKey struct {
	Probability  float64
	PassesSurvey int
	ID           string
}

// Key is s's position in any SiteOrder.
func (s Site) Key() SiteKey {
	return SiteKey{Probability: s.Probability, PassesSurvey: s.PassesSurvey, ID: s.ID}
}

// SiteQuery selects a page of sites. Every filter runs in SQL.
type SiteQuery struct {
	// BBox bounds the sites (edges included); the zero box means the world.
	BBox BBox
	// Statuses keeps sites in any of them (none: all).
	Statuses []SiteStatus
	// MinProbability keeps sites at least this probable.
	MinProbability float64
	// Since keeps sites last seen at or after it, Until sites first seen at
	// or before it (zero: no bound): the sites seen in the interval.
	Since, Until time.Time
	Order        SiteOrder
	// After is the key of the last site of the previous page (zero: the
	// first page).
	After SiteKey
	// Limit is the page size (≤ 0 or too large: the store's maximum).
	Limit int
}

func (b BBox) world() bool {
	return b == BBox{} || (b.MinLat <= -90 && b.MinLon <= -180 && b.MaxLat >= 90 && b.MaxLon >= 180)
}

// SitesPage returns one page of the sites q selects, in q.Order, after
// q.After. A page shorter than q.Limit is the last.
func (o *ops) SitesPage(ctx context.Context, q SiteQuery) ([]Site, error) {
	what := fmt.Sprintf("sites page %+v", q.BBox)
	if err := finite("site query", "min_probability", q.MinProbability, "after probability", q.After.Probability); err != nil {
		return nil, err
	}
	var (
		from  = `sites s`
		where []string
		args  []any
	)
	if !q.BBox.world() {
		b := q.BBox
		if err := finite("site query bbox", "min_lat", b.MinLat, "min_lon", b.MinLon, "max_lat", b.MaxLat, "max_lon", b.MaxLon); err != nil {
			return nil, err
		}
		if o.d.name == "sqlite" {
			// CROSS JOIN keeps the R*Tree the outer loop: without
			// statistics SQLite would rather walk sites_status and probe
			// the R*Tree once per site of the status.
			from = `sites_rtree r CROSS JOIN sites s ON s.rid = r.id`
			where = append(where, `r.max_lat >= ? AND r.min_lat <= ? AND r.max_lon >= ? AND r.min_lon <= ?`)
			args = append(args, b.MinLat, b.MaxLat, b.MinLon, b.MaxLon)
		} else {
			where = append(where, `s.geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)`)
			args = append(args, b.MinLon, b.MinLat, b.MaxLon, b.MaxLat)
		}
		where = append(where, `s.lat >= ? AND s.lat <= ? AND s.lon >= ? AND s.lon <= ?`)
		args = append(args, b.MinLat, b.MaxLat, b.MinLon, b.MaxLon)
	}
	statuses := q.Statuses
	if q.Order == ByQueue && q.BBox.world() && o.d.name == "sqlite" {
		// The queue's first pages come from the index in order; without
		// statistics SQLite would rather take sites_status and sort.
		from = `sites s INDEXED BY sites_queue`
	}
	if q.Order == ByQueue {
		// The literal text of the sites_queue partial index's predicate,
		// so both planners use it.
		where = append(where, `s.status IN ('candidate', 'revisit')`)
		statuses = nil
	}
	if len(statuses) > 0 {
		where = append(where, `s.status IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(statuses)), ", ")+`)`)
		for _, st := range statuses {
			args = append(args, string(st))
		}
	}
	if q.MinProbability > 0 {
		where = append(where, `s.probability >= ?`)
		args = append(args, q.MinProbability)
	}
	if !q.Since.IsZero() {
		where = append(where, `s.last_seen_us >= ?`)
		args = append(args, us(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, `s.first_seen_us <= ?`)
		args = append(args, us(q.Until))
	}
	var order string
	switch q.Order {
	case ByID:
		if q.After.ID != "" {
			where = append(where, `s.id > ?`)
			args = append(args, q.After.ID)
		}
		order = `s.id`
	case ByQueue:
		if q.After != (SiteKey{}) {
			// (−probability, passes_surveyed, id) > the key's, spelled out:
			// row values compare on both databases, but not with mixed
			// directions.
			where = append(where, `(s.probability < ? OR (s.probability = ? AND (s.passes_surveyed > ? OR (s.passes_surveyed = ? AND s.id > ?))))`)
			a := q.After
			args = append(args, a.Probability, a.Probability, a.PassesSurvey, a.PassesSurvey, a.ID)
		}
		order = `s.probability DESC, s.passes_surveyed, s.id`
	default:
		return nil, fmt.Errorf("%w: %s: no site order %d", ErrInvalid, what, q.Order)
	}
	sq := `SELECT ` + siteCols + ` FROM ` + from
	if len(where) > 0 {
		sq += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sq += ` ORDER BY ` + order + ` LIMIT ?`
	args = append(args, limitOf(q.Limit))
	s, _, err := o.sites(ctx, what, false, sq, args...)
	return s, err
}
