package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/store"
)

// catalogOf is the releasability view of the store: owners from the
// jurisdiction (the host agency of the country containing a site), releases
// from the store.
func catalogOf(db *store.DB) *feed.Catalog {
	owner := func(ctx context.Context, lat, lon float64) (string, error) {
		iso3, _, ok := boundaries.CountryAt(lat, lon)
		if !ok {
			return "", nil // in no country: only the agencies it was released to see it
		}
		a, err := db.HostAgency(ctx, iso3)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		return a.ID, err
	}
	return &feed.Catalog{Sites: db, Audience: feed.StoreAudience(db, owner)}
}

func newReportCmd(g *app) *cobra.Command {
	var (
		pf                      pipelineFlags
		site, agency, user, out string
		lang                    string
	)
	cmd := &cobra.Command{
		Use:   "report --site ID --agency ID --out FILE.pdf",
		Short: "Write a site's evidence report (PDF) for an agency",
		Long: `Writes the evidence report of a site the agency may see (it owns the site, or
the site was released to it), in the agency's language or --lang (es, en, pt):
location (municipality and state from the boundaries imported with
` + "`atalaya boundaries import`" + `, each with its source, else "not determined";
the state falls back to Natural Earth admin-1, the country is Natural Earth's),
each pass seen or surveyed without a detection, decisions with who and when,
and the SHA-256 of every source granule and of the audit entry that released
the site. Its
generation and the file's SHA-256 are recorded in the audit log, so
` + "`atalaya report verify FILE`" + ` proves the file unaltered later.`,
		Example: `  atalaya report --site 01a2139a… --agency DEA --out site.pdf
  atalaya report verify site.pdf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if site == "" || agency == "" || out == "" {
				return errors.New("--site, --agency and --out are required: which site, for which agency, into which file")
			}
			ctx := cmd.Context()
			db, err := pf.open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			a, err := db.Agency(ctx, agency)
			if err != nil {
				return fmt.Errorf("--agency %s: %w (see GET /agencies)", agency, err)
			}
			if lang == "" {
				lang = a.Lang
			}
			if user == "" {
				user = "cli"
			}
			p := access.Principal{UserID: user, AgencyID: a.ID, Role: access.RolePartner, Lang: lang}
			rs := &feed.ReportSource{Store: db, Catalog: catalogOf(db)}
			r, err := rs.BuildReport(ctx, p, site, lang)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("site %s: not found, or not released to %s", site, agency)
			}
			if err != nil {
				return err
			}
			r.Agency = a.Name
			var b bytes.Buffer
			if err := feed.WriteReport(&b, r); err != nil {
				return err
			}
			if _, err := feed.RecordReport(ctx, db, p, b.Bytes()); err != nil {
				return err
			}
			if err := os.WriteFile(out, b.Bytes(), 0o640); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes, SHA-256 %s); its generation is in the audit log\n", out, b.Len(), feed.ReportSHA256(b.Bytes()))
			return nil
		},
	}
	pf.addStore(cmd.PersistentFlags())
	f := cmd.Flags()
	f.StringVar(&site, "site", "", "the site id")
	f.StringVar(&agency, "agency", "", "the agency the report is for (it must own the site or have it released to it)")
	f.StringVar(&user, "user", "", "who asks for it (recorded in the audit log; default cli)")
	f.StringVar(&lang, "lang", "", "es, en or pt (default: the agency's language)")
	f.StringVar(&out, "out", "", "the PDF to write")
	verify := &cobra.Command{
		Use:   "verify FILE.pdf",
		Short: "Prove a report unaltered and true to the records",
		Long: `Checks the audit chain, that an entry of it records the generation of a file
with exactly this SHA-256, that every source granule the report lists is in the
store with the SHA-256 it states, and that the release entry it cites is in the
chain with its hash.`,
		Example: `  atalaya report verify site.pdf --db postgres://atalaya@db/atalaya`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := pf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			return verifyReport(cmd, db, args[0], nil)
		},
	}
	cmd.AddCommand(verify)
	return cmd
}

// verifyReport proves a report file unaltered (feed.VerifyReport) and says
// what it established; `report verify` and `audit verify --report` run it.
func verifyReport(cmd *cobra.Command, db *store.DB, file string, cp *access.Checkpoint) error {
	pdf, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	c, err := feed.VerifyReport(cmd.Context(), db, pdf, cp)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: unaltered (SHA-256 %s), issued in audit entry %d at %s to %s; %d source granules match; audit chain of %d entries verified\n",
		file, c.SHA256, c.Issued.Seq, c.Issued.At.Format("2006-01-02 15:04:05 UTC"), c.Manifest.Agency, len(c.Manifest.Granules), c.Chain.Entries)
	return nil
}
