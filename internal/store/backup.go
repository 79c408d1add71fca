package store

import (
	"context"
	"fmt"
	"os"

	"modernc.org/sqlite"
)

// backuper is what modernc.org/sqlite's connection offers for SQLite's
// online backup API (sqlite3_backup_*).
type backuper interface {
	NewBackup(dstURI string) (*sqlite.Backup, error)
}

// Backup writes a consistent copy of a running SQLite store to the file
// out, which must not exist. It uses SQLite's online backup API and copies
// every page in one step, inside one read transaction: the copy is the
// database as of one commit, and writers (WAL mode) keep going meanwhile.
// For PostgreSQL it returns ErrUnsupported: use pg_dump or pg_basebackup
// (docs/store.md).
func (db *DB) Backup(ctx context.Context, out string) error {
	if db.d.name != "sqlite" {
		return fmt.Errorf("backup: %w: use pg_dump or pg_basebackup", ErrUnsupported)
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("backup to %s: %w", out, os.ErrExist)
	}
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		b, ok := dc.(backuper)
		if !ok {
			return fmt.Errorf("%w: the sqlite driver has no backup API", ErrUnsupported)
		}
		bk, err := b.NewBackup(out)
		if err != nil {
			return err
		}
		// Step(-1): all pages at once, under one read lock. Copying in
		// smaller steps would restart whenever another connection writes.
		if _, err := bk.Step(-1); err != nil {
			_ = bk.Finish()
			return err
		}
		return bk.Finish()
	})
	if err != nil {
		_ = os.Remove(out)
		return fmt.Errorf("backup to %s: %w", out, err)
	}
	return nil
}
