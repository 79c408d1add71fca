package feed

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/store"
)

// ReportStore is what BuildReport reads.
type ReportStore interface {
	store.SiteReader
	store.GranuleReader
	store.AuditReader
	store.DetectionReader
}

// ReportSource gathers a report's contents.
type ReportSource struct {
	Store   ReportStore
	Catalog *Catalog
	// Evidence returns the site's passes (seen and surveyed-not-seen,
	// with the minimum detectable rate), spectrum, trace and plume images
	// (the server's GET /sites/{id}/evidence). Nil: the passes are those
	// of the site's detections, all seen, without images.
	Evidence func(ctx context.Context, siteID string) (Evidence, error)
	Now      func() time.Time
	// Places locates the site (municipality, state, country, each with
	// its source): a server passes its boundaries.Locator. Nil: one-off
	// lookups in Store (boundaries.Once) if it keeps administrative areas,
	// else Natural Earth alone.
	Places PlaceFinder
}

// PlaceFinder names the municipality, state and country of a point
// (boundaries.Locator).
type PlaceFinder interface {
	AreaAt(ctx context.Context, lat, lon float64) (boundaries.Place, error)
}

// BuildReport gathers the report of a site p may see (store.ErrNotFound
// otherwise), in lang (p.Lang if empty).
func (rs *ReportSource) BuildReport(ctx context.Context, p access.Principal, siteID, lang string) (Report, error) {
	site, err := rs.Catalog.Site(ctx, p, siteID)
	if err != nil {
		return Report{}, fmt.Errorf("report of site %s: %w", siteID, err)
	}
	h, err := rs.Store.SiteHistory(ctx, siteID)
	if err != nil {
		return Report{}, fmt.Errorf("report of site %s: %w", siteID, err)
	}
	now := time.Now
	if rs.Now != nil {
		now = rs.Now
	}
	if lang == "" {
		lang = p.Lang
	}
	r := Report{Site: site, Lang: lang, Agency: p.AgencyID, User: p.UserID, Generated: now().UTC()}
	places := rs.Places
	if places == nil {
		if cs, ok := rs.Store.(boundaries.CandidateStore); ok {
			places = boundaries.Once{Store: cs}
		}
	}
	if places != nil {
		if r.Place, err = places.AreaAt(ctx, site.Lat, site.Lon); err != nil {
			return Report{}, fmt.Errorf("report of site %s: %w", siteID, err)
		}
	} else {
		r.Place = boundaries.NaturalEarthPlace(site.Lat, site.Lon)
	}
	for _, d := range h.Decisions {
		r.Decisions = append(r.Decisions, Decision{ID: d.ID, Actor: d.Actor, At: d.At, Action: string(d.Action), Reason: d.Reason})
	}
	// Source granules: those of the detections and of every pass.
	ids := []string{}
	for _, d := range h.Detections {
		ids = append(ids, d.GranuleID)
	}
	if rs.Evidence != nil {
		if r.Evidence, err = rs.Evidence(ctx, siteID); err != nil {
			return Report{}, fmt.Errorf("report of site %s: evidence: %w", siteID, err)
		}
	}
	for _, ps := range r.Evidence.Passes {
		ids = append(ids, ps.GranuleID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	granules := map[string]store.Granule{}
	for _, id := range ids {
		if id == "" {
			continue
		}
		g, err := rs.Store.Granule(ctx, id)
		if err != nil {
			return Report{}, fmt.Errorf("report of site %s: %w", siteID, err)
		}
		granules[id] = g
		r.Granules = append(r.Granules, GranuleRef{ID: g.ID, Name: g.Name, SHA256: g.SHA256})
	}
	if rs.Evidence == nil {
		for _, id := range ids {
			if g, ok := granules[id]; ok {
				r.Evidence.Passes = append(r.Evidence.Passes, EvidencePass{GranuleID: id, Time: g.Acquired, Seen: true})
			}
		}
	}
	// What the workers stored with the detections: the strongest imaging
	// detection's spectrum and point-sensor detection's trace, when the
	// evidence has none.
	if r.Evidence.Spectrum == nil || r.Evidence.Trace == nil {
		sp, tr := storedSpectrumTrace(h.Detections)
		if r.Evidence.Spectrum == nil {
			r.Evidence.Spectrum = sp
		}
		if r.Evidence.Trace == nil {
			r.Evidence.Trace = tr
		}
	}
	// Plume images of the seen passes that have none: the one the worker
	// drew for the pass's strongest detection, else one drawn from the
	// stored detections' outlines.
	for i, ps := range r.Evidence.Passes {
		if !ps.Seen || len(ps.PlumePNG) > 0 {
			continue
		}
		var ds []store.Detection
		for _, d := range h.Detections {
			if d.GranuleID == ps.GranuleID {
				ds = append(ds, d)
			}
		}
		slices.SortStableFunc(ds, func(a, b store.Detection) int { return cmp.Compare(b.Score, a.Score) })
		for _, d := range ds {
			b, err := rs.Store.DetectionPlumePNG(ctx, d.ID)
			if err != nil {
				return Report{}, fmt.Errorf("report of site %s: %w", siteID, err)
			}
			if len(b) > 0 {
				r.Evidence.Passes[i].PlumePNG = b
				break
			}
		}
		if len(ds) > 0 && len(r.Evidence.Passes[i].PlumePNG) == 0 {
			if r.Evidence.Passes[i].PlumePNG, _, err = PlumePNG(h.Site.Lat, h.Site.Lon, h.Site.UncertaintyM, ds); err != nil {
				return Report{}, fmt.Errorf("report of site %s: %w", siteID, err)
			}
		}
	}
	// The audit entry that released the site to p's agency (the latest
	// release of the site naming it, else the latest release of the site).
	if site.Owner != p.AgencyID {
		var after int64
		for {
			es, err := rs.Store.AuditEntries(ctx, after, 1000)
			if err != nil {
				return Report{}, fmt.Errorf("report of site %s: audit log: %w", siteID, err)
			}
			for _, e := range es {
				if e.Action == access.AuditSiteRelease && e.ObjectID == siteID {
					ref := &AuditRef{Seq: e.Seq, Hash: e.Hash, At: e.At}
					if r.Release == nil || containsQuoted(e.Details, p.AgencyID) || !containsQuoted(r.releaseDetails, p.AgencyID) {
						r.Release, r.releaseDetails = ref, e.Details
					}
				}
				after = e.Seq
			}
			if len(es) < 1000 {
				break
			}
		}
	}
	return r, nil
}

// storedSpectrumTrace reads the spectrum of the strongest imaging
// detection and the trace of the strongest point-sensor detection from
// their properties (fusion.Detections and the pipeline write them); nil
// where none has one.
func storedSpectrumTrace(ds []store.Detection) (*Spectrum, *Trace) {
	var sp *Spectrum
	var tr *Trace
	var spScore, trScore float64
	for _, d := range ds {
		var p struct {
			Spectrum *Spectrum `json:"spectrum"`
			Trace    *Trace    `json:"trace"`
		}
		if d.Properties == "" || json.Unmarshal([]byte(d.Properties), &p) != nil {
			continue
		}
		if q := p.Spectrum; q != nil && len(q.Measured) > 1 && len(q.Library) == len(q.Measured) && len(q.WavelengthUM) == len(q.Measured) &&
			(sp == nil || d.Score > spScore) {
			sp, spScore = q, d.Score
		}
		if q := p.Trace; q != nil && len(q.T) > 1 && len(q.PPM) == len(q.T) && len(q.Fit) == len(q.T) && (tr == nil || d.Score > trScore) {
			tr, trScore = q, d.Score
		}
	}
	return sp, tr
}

func containsQuoted(s, id string) bool {
	return id != "" && len(s) > 0 && strings.Contains(s, `"`+id+`"`)
}
