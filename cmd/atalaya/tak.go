package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/tak"
)

func newTAKCmd(g *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tak",
		Short: "TAK (ATAK, WinTAK, iTAK) certificate authority and client certificates",
		Long: `Atalaya serves released sites to TAK field devices (atalaya serve --tak) and
pushes them to partners' TAK servers (--tak-push). Devices authenticate with
client certificates from Atalaya's own certificate authority: they enroll
themselves with their Atalaya username and password (ATAK: "Enroll for Client
Certificate"), or an administrator issues a PKCS #12 file here. See docs/tak.md.`,
		Example: `  atalaya tak ca init --data /var/lib/atalaya
  atalaya tak cert issue --user ana --out ana.p12
  atalaya tak cert revoke --user ana --reason "phone lost"`,
	}
	cmd.AddCommand(newTAKCACmd(), newTAKCertCmd(g))
	return cmd
}

// takCADir is the CA directory flag shared by the tak commands and serve.
func addCADir(f *pflag.FlagSet, dir *string) {
	f.StringVar(dir, "ca-dir", "", "the TAK certificate authority's directory (default DATA/tak-ca)")
}

func caDir(dir, data string) string {
	if dir != "" {
		return dir
	}
	return filepath.Join(data, "tak-ca")
}

func newTAKCACmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "ca",
		Short:   "Atalaya's TAK certificate authority",
		Example: `  atalaya tak ca init --data /var/lib/atalaya --org "Policía Nacional" --unit Antinarcóticos`,
	}
	var (
		data, dir string
		o         tak.CAOptions
	)
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create the certificate authority that signs TAK client certificates",
		Long: `Creates an RSA certificate authority in DATA/tak-ca (or --ca-dir): ca.pem, the
certificate devices trust (import it into ATAK as the trust store), and
ca-key.pem, its private key (mode 0600: back it up somewhere safe, and keep it
off shared disks). It refuses to overwrite an existing CA: every certificate it
issued would stop working.`,
		Example: `  atalaya tak ca init
  atalaya tak ca init --data /var/lib/atalaya --org "Policía Nacional" --unit Antinarcóticos`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := caDir(dir, data)
			ca, err := tak.InitCA(d, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "TAK certificate authority %q created in %s\n  trust store for devices: %s\n  private key (back it up): %s\n  expires %s\n",
				ca.Cert.Subject.CommonName, d, filepath.Join(d, tak.CACertFile), filepath.Join(d, tak.CAKeyFile),
				ca.Cert.NotAfter.UTC().Format("2006-01-02"))
			return nil
		},
	}
	f := initCmd.Flags()
	f.StringVar(&data, "data", "atalaya-data", "data directory")
	addCADir(f, &dir)
	f.StringVar(&o.Name, "name", "Atalaya TAK CA", "the CA's common name")
	f.StringVar(&o.Organization, "org", "Atalaya", "organisation (O) of the CA and of the devices' certificates")
	f.StringVar(&o.Unit, "unit", "TAK", "organisational unit (OU) of the devices' certificates")
	f.DurationVar(&o.Validity, "validity", 10*365*24*time.Hour, "how long the CA is valid")
	var tsOut, tsPassword string
	trust := &cobra.Command{
		Use:   "truststore",
		Short: "Write the CA as a PKCS #12 trust store for ATAK and iTAK",
		Long: `Writes the CA certificate as a PKCS #12 trust store (alias "ca0"), the form
ATAK's "Import Trust Store" and iTAK take, so devices trust Atalaya's TAK ports
before they enroll.`,
		Example: `  atalaya tak ca truststore --out atalaya-truststore.p12 --password atakatak`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tsOut == "" {
				return errors.New("--out is required")
			}
			ca, err := tak.LoadCA(caDir(dir, data))
			if err != nil {
				return err
			}
			p12, err := tak.TrustStoreP12(tsPassword, []string{"ca0"}, []*x509.Certificate{ca.Cert})
			if err != nil {
				return err
			}
			if err := os.WriteFile(tsOut, p12, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "trust store with %q written to %s\n", ca.Cert.Subject.CommonName, tsOut)
			return nil
		},
	}
	f = trust.Flags()
	f.StringVar(&data, "data", "atalaya-data", "data directory")
	addCADir(f, &dir)
	f.StringVar(&tsOut, "out", "", "the PKCS #12 file to write")
	f.StringVar(&tsPassword, "password", tak.DefaultP12Password, "its password (devices ask for it on import)")
	cmd.AddCommand(initCmd, trust)
	return cmd
}

func newTAKCertCmd(g *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Issue, list and revoke TAK client certificates",
		Example: `  atalaya tak cert issue --user ana --out ana.p12
  atalaya tak cert list
  atalaya tak cert revoke --serial 5cfc16dd758c0ee6b169e894fb798f13`,
	}
	var pf pipelineFlags
	var dir string
	open := func(ctx context.Context) (*store.DB, *tak.CA, error) {
		ca, err := tak.LoadCA(caDir(dir, pf.dataDir))
		if err != nil {
			return nil, nil, err
		}
		db, err := pf.open(ctx)
		return db, ca, err
	}
	common := func(f *pflag.FlagSet) {
		f.StringVar(&pf.dataDir, "data", "atalaya-data", "data directory")
		f.StringVar(&pf.dbURL, "db", "", "the store: sqlite:PATH or postgres://… (default sqlite:DATA/atalaya.db)")
		addCADir(f, &dir)
	}

	var (
		user, out, password string
		validity            time.Duration
	)
	issue := &cobra.Command{
		Use:   "issue",
		Short: "Issue a client certificate for a user, as a PKCS #12 file",
		Long: `Makes a key and a certificate for an Atalaya user (the certificate's common name
is the username; the user's agency decides which sites the device sees) and
writes them, with the CA, to a PKCS #12 file protected by --password. Use it
for devices that cannot enroll themselves; ATAK and iTAK can ("Enroll for
Client Certificate" with the username and password, port 8446).`,
		Example: `  atalaya tak cert issue --user ana --out ana.p12 --password s3cret`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" || out == "" {
				return errors.New("--user and --out are required")
			}
			ctx := cmd.Context()
			db, ca, err := open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			u, err := db.UserByName(ctx, user)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no user %q: add one with atalaya user add", user)
			}
			if err != nil {
				return err
			}
			if u.Disabled {
				return fmt.Errorf("user %q is disabled", user)
			}
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				return err
			}
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{
				CommonName: u.Username, Organization: []string{ca.Organization}, OrganizationalUnit: []string{ca.Unit}}}, key)
			if err != nil {
				return err
			}
			csr, err := tak.ParseCSR(der)
			if err != nil {
				return err
			}
			is := &tak.Issuer{CA: ca, Certs: db, Validity: validity}
			actor := access.System("tak-cert-issue")
			c, err := is.Issue(ctx, csr, tak.User{ID: u.Username, AgencyID: u.AgencyID, StoreID: u.ID, Actor: &actor}, "")
			if err != nil {
				return err
			}
			p12, err := tak.ClientP12(password, key, c, ca.Cert)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, p12, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "issued certificate %s for %s (%s), valid until %s: %s\n",
				tak.Serial(c), u.Username, u.AgencyID, c.NotAfter.UTC().Format("2006-01-02"), out)
			return nil
		},
	}
	common(issue.Flags())
	issue.Flags().StringVar(&user, "user", "", "the Atalaya username")
	issue.Flags().StringVar(&out, "out", "", "the PKCS #12 file to write")
	issue.Flags().StringVar(&password, "password", tak.DefaultP12Password, "the PKCS #12 file's password")
	issue.Flags().DurationVar(&validity, "validity", 365*24*time.Hour, "how long the certificate is valid")

	var serial, reason string
	revoke := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke a client certificate, or every certificate of a user",
		Long: `Revokes at once: the streaming and API ports refuse the certificate at the next
connection. Revoking is permanent.`,
		Example: `  atalaya tak cert revoke --serial 5cfc16dd758c0ee6b169e894fb798f13 --reason "phone lost"
  atalaya tak cert revoke --user ana --reason "left the unit"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (serial == "") == (user == "") {
				return errors.New("give --serial or --user (see atalaya tak cert list)")
			}
			ctx := cmd.Context()
			db, err := pf.open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			n, err := tak.Revoke(ctx, db, access.System("tak-cert-revoke"), serial, user, reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %d certificate(s)\n", n)
			g.log.Info("tak certificates revoked", "serial", serial, "user", user, "n", n, "reason", reason)
			return nil
		},
	}
	common(revoke.Flags())
	revoke.Flags().StringVar(&serial, "serial", "", "the certificate's serial (hex)")
	revoke.Flags().StringVar(&user, "user", "", "revoke every certificate of this username")
	revoke.Flags().StringVar(&reason, "reason", "", "why (kept with the revocation)")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the client certificates issued",
		Example: `  atalaya tak cert list --user ana`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, err := pf.open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			cs, err := db.TAKCertsOf(ctx, user)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "SERIAL\tUSER\tAGENCY\tDEVICE\tISSUED\tEXPIRES\tREVOKED")
			for _, c := range cs {
				rev := "-"
				if !c.Revoked.IsZero() {
					rev = c.Revoked.UTC().Format("2006-01-02") + " " + c.Reason
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Serial, c.UserID, c.AgencyID, c.ClientUID,
					c.Issued.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02"), rev)
			}
			return w.Flush()
		},
	}
	common(list.Flags())
	list.Flags().StringVar(&user, "user", "", "only this username's certificates")
	cmd.AddCommand(issue, revoke, list)
	return cmd
}

// takFlags are serve's TAK options.
type takFlags struct {
	enabled                       bool
	caDir                         string
	stream, api, enroll           string
	hosts                         []string
	baseURL                       string
	push                          []string
	pushP12, pushPassword, pushCA string
	xmlOnly                       bool
}

func (t *takFlags) add(f *pflag.FlagSet) {
	f.BoolVar(&t.enabled, "tak", false, "serve TAK devices: streaming (--tak-stream), API (--tak-api) and enrollment (--tak-enroll) ports")
	addCADir(f, &t.caDir)
	f.StringVar(&t.stream, "tak-stream", tak.DefaultStreamAddr, "TAK streaming port (TLS, client certificates); empty: off")
	f.StringVar(&t.api, "tak-api", tak.DefaultAPIAddr, "TAK Marti API port (TLS, client certificates); empty: off")
	f.StringVar(&t.enroll, "tak-enroll", tak.DefaultEnrollAddr, "TAK certificate enrollment port (TLS, username and password); empty: off")
	f.StringSliceVar(&t.hosts, "tak-host", nil, "names and addresses devices reach this server by (default: the host name and localhost)")
	f.StringVar(&t.baseURL, "tak-url", "", "Atalaya's web address, linked from each site's event (e.g. https://atalaya.example)")
	f.StringSliceVar(&t.push, "tak-push", nil, "push released sites to a partner's TAK server: tls://AGENCY@host:8089 or tcp://AGENCY@host:8087 (repeatable)")
	f.StringVar(&t.pushP12, "tak-push-cert", "", "client certificate for tls:// push targets (PKCS #12 from the partner)")
	f.StringVar(&t.pushPassword, "tak-push-password", tak.DefaultP12Password, "password of --tak-push-cert")
	f.StringVar(&t.pushCA, "tak-push-ca", "", "the partners' CA certificate (PEM) for tls:// push targets (default: the CA chain in --tak-push-cert)")
	f.BoolVar(&t.xmlOnly, "tak-xml-only", false, "XML CoT only: no TAK protocol (protobuf) offer to devices, no protobuf request to partners' TAK servers")
}

// takParts are the TAK servers and pushers serve runs; each is an outbox
// sink (Name, Deliver).
type takParts struct {
	servers *tak.Servers
	pushers []*tak.Pusher
	cancel  context.CancelFunc
	done    chan struct{}
}

// start runs the TAK servers and pushers; devices' ground-truth replies
// are recorded through internal/feed, then recorded is called.
func (t *takFlags) start(ctx context.Context, g *app, db *store.DB, data string, recorded func(context.Context, string)) (*takParts, error) {
	if !t.enabled && len(t.push) == 0 {
		return nil, nil
	}
	parts := &takParts{done: make(chan struct{})}
	svc := access.New(db, access.Options{})
	opts := cot.SiteOptions{BaseURL: t.baseURL}
	if t.enabled {
		ca, err := tak.LoadCA(caDir(t.caDir, data))
		if err != nil {
			return nil, err
		}
		hosts := t.hosts
		if len(hosts) == 0 {
			h, _ := os.Hostname()
			hosts = []string{h, "localhost", "127.0.0.1"}
		}
		parts.servers, err = tak.Start(tak.Config{CA: ca, Hosts: hosts, StreamAddr: t.stream, APIAddr: t.api, EnrollAddr: t.enroll,
			Store: db, Owners: svc, Site: opts, Version: version(), XMLOnly: t.xmlOnly, Log: g.log,
			GroundTruth: tak.FeedGroundTruth(db, &feed.Catalog{Sites: db, Audience: feed.StoreAudience(db, svc.OwnerOf)}, recorded)})
		if err != nil {
			return nil, err
		}
	}
	var cfg *tls.Config
	for _, s := range t.push {
		target, err := tak.ParsePushTarget(s)
		if err != nil {
			return nil, err
		}
		var tc *tls.Config
		if target.TLS {
			if cfg == nil {
				if cfg, err = t.pushTLS(); err != nil {
					return nil, err
				}
			}
			tc = cfg.Clone()
		}
		a, err := db.Agency(ctx, target.AgencyID)
		if err != nil {
			return nil, fmt.Errorf("--tak-push %s: agency %s: %w", s, target.AgencyID, err)
		}
		o := opts
		o.Lang = a.Lang
		p, err := tak.NewPusher(tak.PushConfig{Address: target.Address, TLS: tc, AgencyID: a.ID, Site: o,
			Sites: tak.StoreSites{Store: db, Owners: svc}, XMLOnly: t.xmlOnly, Log: g.log})
		if err != nil {
			return nil, err
		}
		parts.pushers = append(parts.pushers, p)
	}
	pctx, cancel := context.WithCancel(context.Background())
	parts.cancel = cancel
	go func() {
		defer close(parts.done)
		done := make(chan struct{}, len(parts.pushers))
		for _, p := range parts.pushers {
			go func() { p.Run(pctx); done <- struct{}{} }()
		}
		for range parts.pushers {
			<-done
		}
	}()
	return parts, nil
}

func (t *takFlags) pushTLS() (*tls.Config, error) {
	if t.pushP12 == "" {
		return nil, errors.New("--tak-push tls://… needs --tak-push-cert (the client certificate the partner issued, PKCS #12)")
	}
	cert, cas, err := tak.LoadClientP12(t.pushP12, t.pushPassword)
	if err != nil {
		return nil, fmt.Errorf("--tak-push-cert: %w", err)
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	if t.pushCA != "" {
		b, err := os.ReadFile(t.pushCA)
		if err != nil {
			return nil, fmt.Errorf("--tak-push-ca: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--tak-push-ca %s: no PEM certificate in it", t.pushCA)
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, RootCAs: roots}, nil
}

func (p *takParts) stop() error {
	if p == nil {
		return nil
	}
	p.cancel()
	<-p.done
	if p.servers == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.servers.Close(ctx)
}

// sinks are the TAK outputs, for the outbox dispatcher: the streaming
// server (it filters by agency itself) and one pusher per partner server
// (each also an agency sink: Agency()).
func (p *takParts) sinks() []feed.Sink {
	if p == nil {
		return nil
	}
	var out []feed.Sink
	if p.servers != nil {
		out = append(out, p.servers.Stream)
	}
	for _, q := range p.pushers {
		out = append(out, q)
	}
	return out
}
