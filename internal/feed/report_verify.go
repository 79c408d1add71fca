package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// ErrReport: a report does not match the records (altered, or its sources
// changed).
var ErrReport = errors.New("feed: report does not match the records")

// reportAuditDetails are the details of a ReportAuditAction entry.
type reportAuditDetails struct {
	SHA256   string         `json:"sha256"`
	Manifest ReportManifest `json:"manifest"`
}

// RecordReport audits the generation of a report through w (a store.Tx or
// the store): who generated it and the file's SHA-256, so that
// VerifyReport can later prove the file unaltered.
func RecordReport(ctx context.Context, w store.AuditWriter, p access.Principal, pdf []byte) (store.AuditEntry, error) {
	man, err := ReadReportManifest(pdf)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("record report: %w", err)
	}
	return access.Record(ctx, w, access.Event{Actor: p, Action: ReportAuditAction, ObjectType: "site", ObjectID: man.Site,
		Details: reportAuditDetails{SHA256: ReportSHA256(pdf), Manifest: man}})
}

// ReportCheck is what VerifyReport established.
type ReportCheck struct {
	SHA256   string
	Manifest ReportManifest
	// Issued is the audit entry that recorded the report's generation.
	Issued store.AuditEntry
	// Chain is the verified audit chain.
	Chain access.Verified
}

// VerifyStore is what VerifyReport reads.
type VerifyStore interface {
	store.AuditReader
	store.GranuleReader
}

// VerifyReport proves a report file unaltered and still true to the
// records: the audit chain verifies (access.VerifyChain, with cp if given);
// an entry of the chain records the generation of a file with exactly this
// SHA-256; the manifest in the file is the one recorded; every source
// granule it lists is in the store with that SHA-256; and the release entry
// it cites is in the chain with that hash. Errors wrap ErrReport (or
// access.ErrChain) and say which check failed.
func VerifyReport(ctx context.Context, st VerifyStore, pdf []byte, cp *access.Checkpoint) (ReportCheck, error) {
	c := ReportCheck{SHA256: ReportSHA256(pdf)}
	var err error
	if c.Manifest, err = ReadReportManifest(pdf); err != nil {
		return c, fmt.Errorf("%w: %w", ErrReport, err)
	}
	if c.Chain, err = access.VerifyChain(ctx, st, cp); err != nil {
		return c, err
	}
	var (
		after   int64
		release *store.AuditEntry
	)
	for {
		es, err := st.AuditEntries(ctx, after, 1000)
		if err != nil {
			return c, fmt.Errorf("verify report: %w", err)
		}
		for _, e := range es {
			if e.Action == ReportAuditAction && e.ObjectID == c.Manifest.Site && c.Issued.Seq == 0 {
				var d reportAuditDetails
				if json.Unmarshal([]byte(e.Details), &d) == nil && d.SHA256 == c.SHA256 {
					c.Issued = e
				}
			}
			if c.Manifest.Release != nil && e.Seq == c.Manifest.Release.Seq {
				release = &e
			}
			after = e.Seq
		}
		if len(es) < 1000 {
			break
		}
	}
	if c.Issued.Seq == 0 {
		return c, fmt.Errorf("%w: no audit entry records a report of site %s with SHA-256 %s: the file was altered, or not issued by this Atalaya",
			ErrReport, c.Manifest.Site, c.SHA256)
	}
	for _, g := range c.Manifest.Granules {
		sg, err := st.Granule(ctx, g.ID)
		if err != nil {
			return c, fmt.Errorf("%w: source granule %s: %w", ErrReport, g.ID, err)
		}
		if sg.SHA256 != g.SHA256 {
			return c, fmt.Errorf("%w: source granule %s: the report says SHA-256 %s, the store %s", ErrReport, g.ID, g.SHA256, sg.SHA256)
		}
	}
	if r := c.Manifest.Release; r != nil {
		if release == nil {
			return c, fmt.Errorf("%w: the release entry %d the report cites is not in the audit log", ErrReport, r.Seq)
		}
		if release.Hash != r.Hash || release.Action != access.AuditSiteRelease || release.ObjectID != c.Manifest.Site {
			return c, fmt.Errorf("%w: audit entry %d is not the release of site %s with hash %s the report cites", ErrReport, r.Seq, c.Manifest.Site, r.Hash)
		}
	}
	return c, nil
}

// ReportHandler serves GET /sites/{id}/report.pdf (?lang=es|en|pt; default
// the caller's language): the evidence report of a site the caller may see
// (404 otherwise), recorded in the audit log (w) before it is sent, so
// every report handed out can be verified later.
func ReportHandler(cfg HandlerConfig, rs *ReportSource, w store.AuditWriter) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sites/{id}/report.pdf", func(rw http.ResponseWriter, r *http.Request) {
		p, ok := cfg.Principal(r)
		if !ok {
			writeError(rw, http.StatusUnauthorized, "unauthorized", "", "sign in or send an API token")
			return
		}
		if !p.Can(access.ReadEvidence) {
			writeError(rw, http.StatusForbidden, "forbidden", "", "role "+string(p.Role)+" may not read evidence")
			return
		}
		lang := r.URL.Query().Get("lang")
		switch lang {
		case "", "es", "en", "pt":
		default:
			writeError(rw, http.StatusBadRequest, "invalid", "lang", "lang "+lang+": want es, en or pt")
			return
		}
		rep, err := rs.BuildReport(r.Context(), p, r.PathValue("id"), lang)
		if errors.Is(err, store.ErrNotFound) {
			writeError(rw, http.StatusNotFound, "not_found", "", "no site "+r.PathValue("id"))
			return
		}
		if err != nil {
			writeError(rw, http.StatusInternalServerError, "internal", "", err.Error())
			return
		}
		var b bytes.Buffer
		if err := WriteReport(&b, rep); err != nil {
			writeError(rw, http.StatusInternalServerError, "internal", "", err.Error())
			return
		}
		if _, err := RecordReport(r.Context(), w, p, b.Bytes()); err != nil {
			writeError(rw, http.StatusInternalServerError, "internal", "", err.Error())
			return
		}
		rw.Header().Set("Content-Type", "application/pdf")
		rw.Header().Set("Content-Disposition", `attachment; filename="atalaya-site-`+rep.Site.ID+`.pdf"`)
		rw.Header().Set("X-Atalaya-Report-Sha256", ReportSHA256(b.Bytes()))
		_, _ = rw.Write(b.Bytes())
	})
	return mux
}
