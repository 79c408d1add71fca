package store

import "database/sql"

// SQL exposes the pool to tests that check what the API cannot reach.
func (db *DB) SQL() *sql.DB { return db.db }
