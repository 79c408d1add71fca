package sites

import (
	"maps"
	"slices"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// Restore puts a site kept elsewhere (a database) back into the catalog
// with the detections it was built from, so that new detections associate
// with it as if it had never left. Its position and detected-gas evidence
// are recomputed from its detections (the same function of them as when it
// was made); its pass counts and the evidence of gases it has no detection
// of are kept until UpdateFromGrid refreshes them. A site with the ID of
// one already in the catalog replaces it.
func (c *Catalog) Restore(s Site) {
	cp := s
	cp.Gases = map[string]*GasEvidence{}
	for g, e := range s.Gases {
		if e != nil && !e.Detected {
			ec := *e
			cp.Gases[g] = &ec
		}
	}
	cp.Types = slices.Clone(s.Types)
	cp.Detections = slices.Clone(s.Detections)
	cp.East, cp.North = cube.LatLonToUTM(s.Lat, s.Lon, c.cfg.Zone, c.cfg.North)
	if cp.SigmaM < c.cfg.MinSigmaM {
		cp.SigmaM = c.cfg.MinSigmaM
	}
	p := &cp
	if i := slices.IndexFunc(c.sites, func(o *Site) bool { return o.ID == s.ID }); i >= 0 {
		c.sites[i] = p
	} else {
		c.sites = append(c.sites, p)
	}
	if len(p.Detections) > 0 {
		c.refresh(p)
	} else {
		c.score(p)
	}
}

// Site returns a copy of the site with that ID.
func (c *Catalog) Site(id string) (Site, bool) {
	i := slices.IndexFunc(c.sites, func(o *Site) bool { return o.ID == id })
	if i < 0 {
		return Site{}, false
	}
	s := *c.sites[i]
	s.Gases = maps.Clone(s.Gases)
	for g, e := range s.Gases {
		ec := *e
		s.Gases[g] = &ec
	}
	s.Types = slices.Clone(s.Types)
	s.Detections = slices.Clone(s.Detections)
	return s, true
}

// ZFromP converts a p-value to the one-sided z-score with that upper-tail
// probability, Φ⁻¹(1 − p); outside (0, 1) it returns fallback.
func ZFromP(p, fallback float64) float64 { return zFromP(p, fallback) }
