package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/store"
)

func newBackupCmd(g *app) *cobra.Command {
	var dbURL, out string
	cmd := &cobra.Command{
		Use:   "backup --db sqlite:PATH --out FILE",
		Short: "Copy a running SQLite store consistently",
		Long: `Writes a consistent copy of a SQLite store to a new file while the store stays
in use: SQLite's online backup API copies the database as of one commit, and
writers carry on meanwhile. Restore by stopping Atalaya and putting the copy in
place of the store file (remove its -wal and -shm files first).

For PostgreSQL use pg_dump (logical) or pg_basebackup (physical, with WAL);
see docs/store.md.`,
		Example: `  atalaya backup --db sqlite:/var/lib/atalaya/atalaya.db --out /backup/atalaya-$(date +%F).db`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !strings.HasPrefix(dbURL, "sqlite:") {
				return fmt.Errorf("--db %q: backup copies SQLite stores (sqlite:PATH); for PostgreSQL use pg_dump or pg_basebackup", dbURL)
			}
			if out == "" {
				return fmt.Errorf("--out: want the file to write")
			}
			// Opening would create a missing store, and migrate an old one.
			if _, err := os.Stat(strings.TrimPrefix(dbURL, "sqlite:")); err != nil {
				return fmt.Errorf("--db %q: %w", dbURL, err)
			}
			start := time.Now()
			db, err := store.Open(cmd.Context(), dbURL, store.Options{NoMigrate: true})
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.Backup(cmd.Context(), out); err != nil {
				return err
			}
			g.log.Info("backup written", "db", dbURL, "out", out, "took", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&dbURL, "db", "", "the store: sqlite:PATH")
	cmd.Flags().StringVar(&out, "out", "", "the copy to write (must not exist)")
	return cmd
}
