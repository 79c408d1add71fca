package access

import (
	"context"

	"github.com/atalaya-project/atalaya/internal/store"
)

// Store is what package access needs of the store: its records and
// transactions. *store.DB implements it; a store.Tx has the same reads and
// writes, so a change and its audit entry go in one transaction.
type Store interface {
	store.AccessReader
	store.AccessWriter
	InTx(ctx context.Context, fn func(store.Tx) error) error
}

var _ Store = (*store.DB)(nil)
