package store

import "context"

// SitesByStatus lists sites by status.
type SitesByStatus interface {
	// SitesWithStatus returns up to limit sites with the status, by id.
	SitesWithStatus(ctx context.Context, status SiteStatus, limit int) ([]Site, error)
}

var _ SitesByStatus = (*DB)(nil)

// SitesWithStatus implements SitesByStatus.
func (o *ops) SitesWithStatus(ctx context.Context, status SiteStatus, limit int) ([]Site, error) {
	s, _, err := o.sites(ctx, "sites with status "+string(status), false,
		`SELECT `+siteCols+` FROM sites s WHERE s.status = ? ORDER BY s.id LIMIT ?`, string(status), limitOf(limit))
	return s, err
}
