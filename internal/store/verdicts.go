package store

import (
	"context"
	"encoding/json"
)

// Verdict is an analyst's or a partner's judgement of a site, for
// calibrating site probabilities: the site's evidence when it was judged
// and whether it was real.
type Verdict struct {
	SiteID string
	// Evidence is the site's evidence (log Bayes factor) when judged: the
	// decision payload's "evidence" if it recorded one, else the site's
	// current evidence.
	Evidence float64
	// Real: confirmed (or a partner found a laboratory), else dismissed
	// (or a partner found nothing).
	Real bool
}

// Verdicts returns, for every site judged, its latest verdict: the last
// confirm or dismiss decision, or ground truth reported by a partner (a
// ground-truth decision whose payload's "outcome" is "confirmed-lab" or
// "nothing-found"; "not-visited" is no verdict).
func (o *ops) Verdicts(ctx context.Context) ([]Verdict, error) {
	const what = "verdicts"
	rows, err := o.query(ctx, `SELECT d.site_id, d.action, d.payload, s.evidence
		FROM decisions d JOIN sites s ON s.id = d.site_id
		WHERE d.action IN ('confirm', 'dismiss', 'ground-truth')
		ORDER BY d.site_id, d.at_us, d.id`)
	if err != nil {
		return nil, o.d.wrap(err, "%s", what)
	}
	defer rows.Close()
	latest := map[string]Verdict{}
	var order []string
	for rows.Next() {
		var (
			v               Verdict
			action, payload string
		)
		if err := rows.Scan(&v.SiteID, &action, &payload, &v.Evidence); err != nil {
			return nil, o.d.wrap(err, "%s", what)
		}
		var p struct {
			Evidence *float64 `json:"evidence"`
			Outcome  string   `json:"outcome"`
		}
		if payload != "" {
			_ = json.Unmarshal([]byte(payload), &p) // a payload of another shape: no figures from it
		}
		if p.Evidence != nil {
			v.Evidence = *p.Evidence
		}
		switch DecisionAction(action) {
		case ActionConfirm:
			v.Real = true
		case ActionDismiss:
		default: // ground truth
			switch p.Outcome {
			case "confirmed-lab":
				v.Real = true
			case "nothing-found":
			default:
				continue
			}
		}
		if _, ok := latest[v.SiteID]; !ok {
			order = append(order, v.SiteID)
		}
		latest[v.SiteID] = v
	}
	if err := rows.Err(); err != nil {
		return nil, o.d.wrap(err, "%s", what)
	}
	out := make([]Verdict, 0, len(order))
	for _, id := range order {
		out = append(out, latest[id])
	}
	return out, nil
}
