package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// storeFlags select the store, with the same defaults as serve.
type storeFlags struct {
	dataDir, dbURL string
}

func (s *storeFlags) add(f *pflag.FlagSet) {
	f.StringVar(&s.dataDir, "data", "atalaya-data", "data directory holding the default SQLite store")
	f.StringVar(&s.dbURL, "db", "", "the store: sqlite:PATH or postgres://… (default sqlite:DATA/atalaya.db)")
}

func (s *storeFlags) url() string {
	if s.dbURL != "" {
		return s.dbURL
	}
	return "sqlite:" + filepath.Join(s.dataDir, "atalaya.db")
}

// open opens the store. readOnly opens it as it is (no migration) and
// refuses a SQLite file that does not exist, rather than creating one.
func (s *storeFlags) open(ctx context.Context, readOnly bool) (*store.DB, error) {
	u := s.url()
	if path, ok := strings.CutPrefix(u, "sqlite:"); ok {
		if readOnly {
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("store %s: %w (give --db or --data)", u, err)
			}
		} else if s.dbURL == "" {
			if err := os.MkdirAll(s.dataDir, 0o750); err != nil {
				return nil, fmt.Errorf("--data: %w", err)
			}
		}
	}
	return store.Open(ctx, u, store.Options{NoMigrate: readOnly})
}

// cliActor is who the audit log records for administration from the
// command line: the operating-system user running it.
func cliActor() access.Principal {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return access.System("cli:" + name)
}

// withAccess opens the store and runs f with an access service over it.
func withAccess(cmd *cobra.Command, sf *storeFlags, f func(ctx context.Context, s *access.Service, db *store.DB) error) error {
	ctx := cmd.Context()
	db, err := sf.open(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	return f(ctx, access.New(db, access.Options{}), db)
}

// readPassword reads one line from r (for --password-stdin).
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("--password-stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", fmt.Errorf("--password-stdin: standard input held no password")
	}
	return pw, nil
}

// randomPassword is 18 random bytes in base64url: 24 characters.
func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newAgencyCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "agency",
		Short: "Add and list agencies",
		Long: `Agencies are the organisations whose users sign in. The host agency of a
country (--host, at most one per country) owns the sites found in that
country (Natural Earth admin-0 boundaries) and decides whom to release them
to; other agencies see only what is released to them.`,
	}
	var a access.Agency
	add := &cobra.Command{
		Use:   "add --id ID --name NAME --country ISO3 [--host] [--lang es|en|pt]",
		Short: "Add an agency",
		Example: `  atalaya agency add --id COL-DIRAN --name "Dirección de Antinarcóticos" --country COL --host
  atalaya agency add --id USA-DEA --name "Drug Enforcement Administration" --country USA --lang en`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAccess(cmd, &sf, func(ctx context.Context, s *access.Service, _ *store.DB) error {
				out, err := s.AddAgency(ctx, cliActor(), a)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "agency %s added (%s, host %v)\n", out.ID, out.Country, out.Host)
				return nil
			})
		},
	}
	add.Flags().StringVar(&a.ID, "id", "", "short stable id, e.g. COL-DIRAN")
	add.Flags().StringVar(&a.Name, "name", "", "full name")
	add.Flags().StringVar(&a.Country, "country", "", "ISO 3166-1 alpha-3 country code, e.g. COL")
	add.Flags().StringVar(&a.Lang, "lang", "es", "language of its users by default: es, en or pt")
	add.Flags().BoolVar(&a.Host, "host", false, "the host-nation agency owning the sites in its country")
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the agencies",
		Example: `  atalaya agency list --db postgres://atalaya@db/atalaya`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAccess(cmd, &sf, func(ctx context.Context, s *access.Service, _ *store.DB) error {
				as, err := s.Agencies(ctx)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tCOUNTRY\tHOST\tLANG\tNAME")
				for _, a := range as {
					fmt.Fprintf(w, "%s\t%s\t%v\t%s\t%s\n", a.ID, a.Country, a.Host, a.Lang, a.Name)
				}
				return w.Flush()
			})
		},
	}
	cmd.PersistentFlags().AddFlagSet(storeFlagSet(&sf))
	cmd.AddCommand(add, list)
	return cmd
}

func storeFlagSet(sf *storeFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet("store", pflag.ContinueOnError)
	sf.add(fs)
	return fs
}

func newUserCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Add, list, disable users and set their passwords",
		Long: `Users belong to an agency and have one role: administrator, operator,
analyst, partner or viewer (docs/access.md has what each may do). Passwords
are stored as argon2id hashes; without --password-stdin a random password is
made and printed once.`,
	}
	var (
		nu      access.NewUser
		role    string
		pwStdin bool
	)
	add := &cobra.Command{
		Use:   "add --username NAME --agency ID --role ROLE [--name FULL] [--password-stdin]",
		Short: "Add a user",
		Example: `  atalaya user add --username mgomez --name "María Gómez" --agency COL-DIRAN --role analyst
  printf '%s\n' "$PASSWORD" | atalaya user add --username ops1 --agency COL-DIRAN --role operator --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := access.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			nu.Role = r
			generated := !pwStdin
			if pwStdin {
				if nu.Password, err = readPassword(cmd.InOrStdin()); err != nil {
					return err
				}
			} else {
				nu.Password = randomPassword()
			}
			return withAccess(cmd, &sf, func(ctx context.Context, s *access.Service, _ *store.DB) error {
				u, err := s.AddUser(ctx, cliActor(), nu)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s added: %s of %s (id %s)\n", u.Username, u.Role, u.AgencyID, u.ID)
				if generated {
					fmt.Fprintf(cmd.OutOrStdout(), "password (shown once): %s\n", nu.Password)
				}
				return nil
			})
		},
	}
	add.Flags().StringVar(&nu.Username, "username", "", "sign-in name")
	add.Flags().StringVar(&nu.Name, "name", "", "full name")
	add.Flags().StringVar(&nu.AgencyID, "agency", "", "agency id")
	add.Flags().StringVar(&role, "role", "", "administrator, operator, analyst, partner or viewer")
	add.Flags().StringVar(&nu.Lang, "lang", "", "es, en or pt (default: the agency's)")
	add.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the users",
		Example: `  atalaya user list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAccess(cmd, &sf, func(ctx context.Context, s *access.Service, _ *store.DB) error {
				us, err := s.Users(ctx)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "USERNAME\tROLE\tAGENCY\tLANG\tDISABLED\tNAME")
				for _, u := range us {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\t%s\n", u.Username, u.Role, u.AgencyID, u.Lang, u.Disabled, u.Name)
				}
				return w.Flush()
			})
		},
	}
	var passwdStdin bool
	passwd := &cobra.Command{
		Use:   "passwd USERNAME [--password-stdin]",
		Short: "Set a user's password (and sign them out everywhere)",
		Example: `  atalaya user passwd mgomez                    # prints a new random password once
  printf '%s\n' "$PASSWORD" | atalaya user passwd mgomez --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw := randomPassword()
			if passwdStdin {
				var err error
				if pw, err = readPassword(cmd.InOrStdin()); err != nil {
					return err
				}
			}
			return withAccess(cmd, &sf, func(ctx context.Context, s *access.Service, _ *store.DB) error {
				if err := s.SetPassword(ctx, cliActor(), args[0], pw); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "password of %s set; their sessions ended\n", args[0])
				if !passwdStdin {
					fmt.Fprintf(cmd.OutOrStdout(), "password (shown once): %s\n", pw)
				}
				return nil
			})
		},
	}
	passwd.Flags().BoolVar(&passwdStdin, "password-stdin", false, "read the password from the first line of standard input")
	var enable bool
	disable := &cobra.Command{
		Use:   "disable USERNAME [--enable]",
		Short: "Disable a user (ending their sessions and tokens), or enable them again",
		Example: `  atalaya user disable mgomez
  atalaya user disable mgomez --enable`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAccess(cmd, &sf, func(ctx context.Context, s *access.Service, _ *store.DB) error {
				if err := s.SetDisabled(ctx, cliActor(), args[0], !enable); err != nil {
					return err
				}
				state := "disabled"
				if enable {
					state = "enabled"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s %s\n", args[0], state)
				return nil
			})
		},
	}
	disable.Flags().BoolVar(&enable, "enable", false, "enable the user again instead")
	cmd.PersistentFlags().AddFlagSet(storeFlagSet(&sf))
	cmd.AddCommand(add, list, passwd, disable)
	return cmd
}

func newTokenCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens",
		Long: `An API token ("atl_" and 43 characters) acts as a user, for programs:
send it as "Authorization: Bearer atl_…". It is printed once at creation and
stored only as a SHA-256 digest; it stops working when it expires, is
revoked, or its user is disabled.`,
	}
	var (
		username, name string
		ttl            time.Duration
	)
	create := &cobra.Command{
		Use:   "create --user USERNAME [--name WHAT] [--ttl DURATION]",
		Short: "Create an API token (printed once)",
		Example: `  atalaya token create --user ops1 --name "uploader on drone-7" --ttl 2160h
  atalaya token create --user feeds --ttl 0     # until revoked`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAccess(cmd, &sf, func(ctx context.Context, s *access.Service, _ *store.DB) error {
				text, tok, err := s.CreateToken(ctx, cliActor(), username, name, ttl)
				if err != nil {
					return err
				}
				exp := "never"
				if !tok.Expires.IsZero() {
					exp = tok.Expires.Format(time.RFC3339)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "token %s for %s, expires %s; shown once:\n", tok.ID, username, exp)
				fmt.Fprintln(cmd.OutOrStdout(), text)
				return nil
			})
		},
	}
	create.Flags().StringVar(&username, "user", "", "the user the token acts as")
	create.Flags().StringVar(&name, "name", "", "what the token is for")
	create.Flags().DurationVar(&ttl, "ttl", 90*24*time.Hour, "lifetime; 0 for until revoked")
	var listUser string
	list := &cobra.Command{
		Use:     "list --user USERNAME",
		Short:   "List a user's API tokens (never their text)",
		Example: `  atalaya token list --user ops1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAccess(cmd, &sf, func(ctx context.Context, s *access.Service, _ *store.DB) error {
				ts, err := s.Tokens(ctx, listUser)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tCREATED\tEXPIRES\tREVOKED\tNAME")
				ts2 := func(t time.Time) string {
					if t.IsZero() {
						return "-"
					}
					return t.Format(time.RFC3339)
				}
				for _, t := range ts {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.ID, ts2(t.Created), ts2(t.Expires), ts2(t.Revoked), t.Name)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().StringVar(&listUser, "user", "", "whose tokens")
	revoke := &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke an API token",
		Example: `  atalaya token revoke 019ca9450a0015b23ee983c1c056c62c`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAccess(cmd, &sf, func(ctx context.Context, s *access.Service, _ *store.DB) error {
				t, err := s.RevokeToken(ctx, cliActor(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked at %s\n", t.ID, t.Revoked.Format(time.RFC3339))
				return nil
			})
		},
	}
	cmd.PersistentFlags().AddFlagSet(storeFlagSet(&sf))
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func newAuditCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and list the hash-chained audit log",
		Long: `Every change (and every read the server records) is appended to the audit
log in the transaction of the change. Each entry's hash covers its fields and
the previous entry's hash; "verify" walks the chain and names the first entry
that was edited, deleted, inserted or reordered. A checkpoint (the newest
entry's sequence number and hash) kept outside the database also catches a
log cut short or rewritten after it was taken: see docs/access.md.`,
	}
	var cpFile, verifyKey, reportFile string
	verify := &cobra.Command{
		Use:   "verify [--db URL] [--checkpoint FILE [--verify-key FILE.pub]] [--report FILE.pdf]",
		Short: "Check the audit chain; exit 1 naming the first bad entry",
		Example: `  atalaya audit verify --db sqlite:/var/lib/atalaya/atalaya.db
  atalaya audit verify --db postgres://atalaya@db/atalaya --checkpoint /mnt/offsite/audit-head.json
  atalaya audit verify --checkpoint head.json --verify-key audit-signing.pub
  atalaya audit verify --report site-01a2.pdf       # and prove a site evidence report unaltered`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var cp *access.Checkpoint
			if cpFile != "" {
				b, err := os.ReadFile(cpFile)
				if err != nil {
					return fmt.Errorf("--checkpoint: %w", err)
				}
				cp = new(access.Checkpoint)
				if err := json.Unmarshal(b, cp); err != nil || cp.Seq < 0 || (cp.Seq > 0 && len(cp.Hash) != 64) {
					return fmt.Errorf("--checkpoint %s: want {\"seq\":N,\"hash\":\"64 hex digits\",\"at\":\"…\"} as written by atalaya audit checkpoint (%v)", cpFile, err)
				}
				if verifyKey != "" {
					kb, err := os.ReadFile(verifyKey)
					if err != nil {
						return fmt.Errorf("--verify-key: %w", err)
					}
					pub, err := access.ParseCheckpointPublicKey(string(kb))
					if err != nil {
						return fmt.Errorf("--verify-key %s: %w", verifyKey, err)
					}
					if err := cp.VerifySignature(pub); err != nil {
						return fmt.Errorf("--checkpoint %s: %w", cpFile, err)
					}
				}
			} else if verifyKey != "" {
				return fmt.Errorf("--verify-key checks a --checkpoint: give one")
			}
			db, err := sf.open(ctx, true)
			if err != nil {
				return err
			}
			defer db.Close()
			start := time.Now()
			v, err := access.VerifyChain(ctx, db, cp)
			if err != nil {
				return fmt.Errorf("audit log of %s is NOT intact: %w", sf.url(), err)
			}
			took := time.Since(start)
			fmt.Fprintf(cmd.OutOrStdout(), "audit log intact: %d entries, head %d %s (%.0f entries/s)\n",
				v.Entries, v.Head.Seq, v.Head.Hash, float64(v.Entries)/max(took.Seconds(), 1e-9))
			if cp != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "checkpoint of %s (entry %d) matches\n", cp.At.Format(time.RFC3339), cp.Seq)
			}
			if reportFile != "" {
				return verifyReport(cmd, db, reportFile, cp)
			}
			return nil
		},
	}
	verify.Flags().StringVar(&cpFile, "checkpoint", "", "a checkpoint file written by atalaya audit checkpoint")
	verify.Flags().StringVar(&reportFile, "report", "", "also prove this site evidence report (PDF) unaltered and true to the records (internal/feed)")
	verify.Flags().StringVar(&verifyKey, "verify-key", "", "require the checkpoint to be signed by this key (a .pub file from atalaya audit keygen)")
	var out, signKey string
	checkpoint := &cobra.Command{
		Use:   "checkpoint --out FILE",
		Short: "Write the audit log's head to a file, to keep outside the database",
		Example: `  atalaya audit checkpoint --db postgres://atalaya@db/atalaya --out /mnt/offsite/audit-head-$(date +%F).json
  atalaya audit checkpoint --out head-$(date +%F).json --sign-key /media/officer/audit-signing.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out: want the file to write")
			}
			ctx := cmd.Context()
			db, err := sf.open(ctx, true)
			if err != nil {
				return err
			}
			defer db.Close()
			if _, err := access.VerifyChain(ctx, db, nil); err != nil {
				return fmt.Errorf("no checkpoint of a broken log: %w", err)
			}
			cp, err := access.TakeCheckpoint(ctx, db, time.Now())
			if err != nil {
				return err
			}
			if signKey != "" {
				kb, err := os.ReadFile(signKey)
				if err != nil {
					return fmt.Errorf("--sign-key: %w", err)
				}
				key, err := access.ParseCheckpointKey(string(kb))
				if err != nil {
					return fmt.Errorf("--sign-key %s: %w", signKey, err)
				}
				cp = cp.Sign(key)
			}
			b, _ := json.MarshalIndent(cp, "", "  ")
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if _, err := f.Write(append(b, '\n')); err != nil {
				_ = f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "checkpoint: entry %d, hash %s → %s\n", cp.Seq, cp.Hash, out)
			return nil
		},
	}
	checkpoint.Flags().StringVar(&out, "out", "", "file to write (must not exist)")
	checkpoint.Flags().StringVar(&signKey, "sign-key", "", "sign the checkpoint with this key (from atalaya audit keygen)")
	var keyOut string
	keygen := &cobra.Command{
		Use:   "keygen --out PREFIX",
		Short: "Make an Ed25519 key pair for signing audit checkpoints",
		Long: `Writes PREFIX.key (the private key, mode 0600: keep it where the database's
administrators cannot read it, e.g. with an audit officer) and PREFIX.pub. A
checkpoint signed with it cannot be forged to match a rewritten log, so it may
be stored anywhere.`,
		Example: `  atalaya audit keygen --out /media/officer/audit-signing`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyOut == "" {
				return fmt.Errorf("--out: want the file name prefix")
			}
			priv, pub := access.NewCheckpointKey()
			for _, f := range []struct {
				name, data string
				mode       os.FileMode
			}{{keyOut + ".key", priv, 0o600}, {keyOut + ".pub", pub, 0o644}} {
				fh, err := os.OpenFile(f.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
				if err != nil {
					return fmt.Errorf("--out: %w", err)
				}
				if _, err := fh.WriteString(f.data + "\n"); err != nil {
					_ = fh.Close()
					return err
				}
				if err := fh.Close(); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.key (keep it away from the database) and %s.pub\n", keyOut, keyOut)
			return nil
		},
	}
	keygen.Flags().StringVar(&keyOut, "out", "", "file name prefix: writes PREFIX.key and PREFIX.pub (neither may exist)")
	var (
		after   int64
		limit   int
		asJSON  bool
		actionF string
	)
	list := &cobra.Command{
		Use:   "list [--after SEQ] [--limit N] [--action A] [--json]",
		Short: "List audit entries, oldest first",
		Example: `  atalaya audit list --limit 20
  atalaya audit list --after 1200 --action site.release --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, err := sf.open(ctx, true)
			if err != nil {
				return err
			}
			defer db.Close()
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			enc := json.NewEncoder(cmd.OutOrStdout())
			if !asJSON {
				fmt.Fprintln(w, "SEQ\tTIME\tACTOR\tAGENCY\tACTION\tOBJECT\tDETAILS")
			}
			shown := 0
			for shown < limit || limit <= 0 {
				page, err := db.AuditEntries(ctx, after, 1000)
				if err != nil {
					return err
				}
				if len(page) == 0 {
					break
				}
				for _, e := range page {
					after = e.Seq
					if actionF != "" && e.Action != actionF {
						continue
					}
					if limit > 0 && shown >= limit {
						break
					}
					shown++
					if asJSON {
						if err := enc.Encode(e); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s %s\t%s\n", e.Seq, e.At.Format(time.RFC3339), e.ActorUser,
						e.ActorAgency, e.Action, e.ObjectType, e.ObjectID, e.Details)
				}
			}
			if asJSON {
				return nil
			}
			return w.Flush()
		},
	}
	list.Flags().Int64Var(&after, "after", 0, "entries after this sequence number")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many entries (0: all)")
	list.Flags().StringVar(&actionF, "action", "", "only this action, e.g. site.release, login.failed")
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	cmd.PersistentFlags().AddFlagSet(storeFlagSet(&sf))
	cmd.AddCommand(verify, checkpoint, keygen, list)
	return cmd
}
