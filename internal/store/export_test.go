package store

import "database/sql"

// SQL exposes the pool to tests that check what the API cannot reach.
func (db *DB) SQL() *sql.DB { return db.db }

// Migrations is the number of migrations (versions need not be contiguous
// while branches that each add one are merged).
func Migrations() int { return len(migrations) }
