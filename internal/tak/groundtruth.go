package tak

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/store"
)

// GroundTruthFunc records a ground-truth reply a device sent on the
// streaming port, as the device's user (the certificate's); it returns the
// site it was recorded for.
type GroundTruthFunc func(ctx context.Context, u User, r cot.GroundTruthReply) (siteID string, err error)

// GroundTruthStore is what FeedGroundTruth needs: the user's record (role,
// language) and the transaction feed.RecordGroundTruth writes in.
type GroundTruthStore interface {
	feed.FeedbackStore
	store.UserReader
}

// ErrAmbiguousSite: a reply named a site by a short id that more than one
// site the user may see ends with.
var ErrAmbiguousSite = errors.New("tak: short site id matches several sites")

// FeedGroundTruth is the CoT reply path: a device's reply becomes
// feed.RecordGroundTruth (decision, audit entry and site.updated alert in
// one transaction, Via "cot") for the certificate's user, with the user's
// current role and agency; a site the agency may not see is refused as
// missing (store.ErrNotFound), exactly as over HTTP. A short id is
// resolved among the sites the user may see. recorded (may be nil) is
// called after the commit (serve: wake the dispatchers, recalibrate).
func FeedGroundTruth(st GroundTruthStore, cat *feed.Catalog, recorded func(ctx context.Context, siteID string)) GroundTruthFunc {
	return func(ctx context.Context, u User, r cot.GroundTruthReply) (string, error) {
		su, err := st.UserByName(ctx, u.ID)
		if err != nil {
			return "", fmt.Errorf("ground truth from %s: %w", u.ID, err)
		}
		p := access.Principal{UserID: su.ID, AgencyID: su.AgencyID, Role: access.Role(su.Role), Lang: su.Lang}
		id := r.SiteID
		if id == "" {
			sites, _, err := cat.Visible(ctx, p, feed.Query{})
			if err != nil {
				return "", err
			}
			var ids []string
			for _, s := range sites {
				if strings.HasSuffix(strings.ToLower(s.ID), r.ShortID) {
					ids = append(ids, s.ID)
				}
			}
			switch len(ids) {
			case 0:
				return "", fmt.Errorf("ground truth from %s: no site ending in %s: %w", u.ID, strings.ToUpper(r.ShortID), store.ErrNotFound)
			case 1:
				id = ids[0]
			default:
				return "", fmt.Errorf("ground truth from %s: %w: %s matches %s: send the reply on the site's marker", u.ID, ErrAmbiguousSite, strings.ToUpper(r.ShortID), strings.Join(ids, ", "))
			}
		}
		if _, err := feed.RecordGroundTruth(ctx, st, cat, p, id, feed.GroundTruth{Outcome: feed.Outcome(r.Outcome),
			Note: r.Note, Visited: r.Visited, Via: "cot"}); err != nil {
			return id, err
		}
		if recorded != nil {
			recorded(ctx, id)
		}
		return id, nil
	}
}
