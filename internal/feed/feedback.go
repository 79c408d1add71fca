package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Outcome is what a partner found at a site.
type Outcome string

// Ground-truth outcomes.
const (
	// OutcomeConfirmedLab: a laboratory was found (confirmed by a lab
	// analysis of samples, or by the officers on site).
	OutcomeConfirmedLab Outcome = "confirmed-lab"
	// OutcomeNothingFound: the site was visited and nothing was found.
	OutcomeNothingFound Outcome = "nothing-found"
	// OutcomeNotVisited: the partner could not or did not visit.
	OutcomeNotVisited Outcome = "not-visited"
)

// ParseOutcome checks an outcome name.
func ParseOutcome(s string) (Outcome, error) {
	switch o := Outcome(s); o {
	case OutcomeConfirmedLab, OutcomeNothingFound, OutcomeNotVisited:
		return o, nil
	}
	return "", fmt.Errorf("outcome %q: want confirmed-lab, nothing-found or not-visited", s)
}

// GroundTruth is a partner's report about a site.
type GroundTruth struct {
	Outcome Outcome   `json:"outcome"`
	Note    string    `json:"note,omitempty"`
	Visited time.Time `json:"visited_at,omitzero"`
	// Via is how it arrived: "api" or "cot" (a TAK reply).
	Via string `json:"via,omitempty"`
}

// groundTruthPayload is the decision's payload.
type groundTruthPayload struct {
	Outcome Outcome `json:"outcome"`
	// Evidence is the site's evidence (log Bayes factor) when reported:
	// the calibration pairs the outcome with it (store.Verdicts).
	Evidence float64   `json:"evidence"`
	Agency   string    `json:"agency"`
	Visited  time.Time `json:"visited_at,omitzero"`
	Via      string    `json:"via,omitempty"`
}

// FeedbackStore is what RecordGroundTruth needs.
type FeedbackStore interface {
	InTx(ctx context.Context, fn func(store.Tx) error) error
}

// RecordGroundTruth appends a partner's ground truth to the site's
// decisions, audits it and enqueues a site.updated alert (so the owner and
// the other receiving agencies hear of it), in one transaction. The
// principal must be allowed to report ground truth and see the site. The
// HTTP endpoint and the CoT reply path both call it. The calibration reads
// the outcome back (store.Verdicts: confirmed-lab is a real site,
// nothing-found a false one, not-visited no verdict).
func RecordGroundTruth(ctx context.Context, st FeedbackStore, cat *Catalog, p access.Principal, siteID string, gt GroundTruth) (store.Decision, error) {
	if !p.Can(access.ReportGroundTruth) {
		return store.Decision{}, fmt.Errorf("ground truth for site %s: %w: role %s may not report ground truth", siteID, ErrForbidden, p.Role)
	}
	if _, err := ParseOutcome(string(gt.Outcome)); err != nil {
		return store.Decision{}, fmt.Errorf("ground truth for site %s: %w: %w", siteID, store.ErrInvalid, err)
	}
	if len(gt.Note) > 4000 {
		return store.Decision{}, fmt.Errorf("ground truth for site %s: %w: note is %d bytes, want at most 4000", siteID, store.ErrInvalid, len(gt.Note))
	}
	site, err := cat.Site(ctx, p, siteID) // ErrNotFound if p may not see it
	if err != nil {
		return store.Decision{}, fmt.Errorf("ground truth for site %s: %w", siteID, err)
	}
	payload, _ := json.Marshal(groundTruthPayload{Outcome: gt.Outcome, Evidence: site.Evidence, Agency: p.AgencyID, Visited: gt.Visited, Via: gt.Via})
	var dec store.Decision
	err = st.InTx(ctx, func(tx store.Tx) error {
		var err error
		dec, err = tx.AppendDecision(ctx, store.Decision{SiteID: siteID, Actor: p.UserID, Action: store.ActionGroundTruth,
			Reason: gt.Note, Payload: string(payload)})
		if err != nil {
			return err
		}
		if _, err := access.Record(ctx, tx, access.Event{Actor: p, Action: "site.ground-truth", ObjectType: "site", ObjectID: siteID,
			Details: map[string]any{"decision": dec.ID, "outcome": gt.Outcome, "via": gt.Via}}); err != nil {
			return err
		}
		_, err = Enqueue(ctx, tx, Event{Kind: KindSiteUpdated, Site: site, Decision: &Decision{ID: dec.ID, Actor: dec.Actor,
			At: dec.At, Action: string(dec.Action), Reason: dec.Reason}})
		return err
	})
	if err != nil {
		return store.Decision{}, fmt.Errorf("ground truth for site %s: %w", siteID, err)
	}
	return dec, nil
}

// ErrForbidden: the principal's role may not do that.
var ErrForbidden = errors.New("feed: forbidden")

// FeedbackHandler serves POST /sites/{id}/ground-truth with a JSON
// GroundTruth body ({"outcome", "note", "visited_at"}); 201 with the
// decision. Mount it under the API prefix (the server authenticates and
// checks CSRF before it).
func FeedbackHandler(cfg HandlerConfig, st FeedbackStore) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sites/{id}/ground-truth", func(w http.ResponseWriter, r *http.Request) {
		p, ok := cfg.Principal(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "unauthorized", "", "sign in or send an API token")
			return
		}
		var gt GroundTruth
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&gt); err != nil {
			writeError(w, http.StatusBadRequest, "invalid", "", "body: "+err.Error()+`: want {"outcome":"confirmed-lab|nothing-found|not-visited","note":"...","visited_at":"RFC 3339"}`)
			return
		}
		gt.Via = "api"
		d, err := RecordGroundTruth(r.Context(), st, cfg.Catalog, p, r.PathValue("id"), gt)
		switch {
		case errors.Is(err, ErrForbidden):
			writeError(w, http.StatusForbidden, "forbidden", "", err.Error())
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, "not_found", "", "no site "+r.PathValue("id"))
		case errors.Is(err, store.ErrInvalid):
			field := "outcome"
			if strings.Contains(err.Error(), "note") {
				field = "note"
			}
			writeError(w, http.StatusBadRequest, "invalid", field, err.Error())
		case err != nil:
			writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
		default:
			w.WriteHeader(http.StatusCreated)
			writeJSONBody(w, Decision{ID: d.ID, Actor: d.Actor, At: d.At, Action: string(d.Action), Reason: d.Reason})
		}
	})
	return mux
}

func writeJSONBody(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	_, _ = w.Write(append(b, '\n'))
}
