package server

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/atalaya-project/atalaya/internal/store"
)

// ErrAuditClosed is returned by a closed BatchAuditor.
var ErrAuditClosed = errors.New("server: audit log closed")

// BatchAuditor appends audit entries to the store's hash-chained log with
// group commit: entries that arrive while a transaction is being written
// go into the next one together, so a burst of reads costs one fsync, not
// one each. Audit returns only once its entry is committed.
type BatchAuditor struct {
	st interface {
		InTx(context.Context, func(store.Tx) error) error
	}
	seal store.AuditSealer
	max  int
	ch   chan auditReq
	done chan struct{}
	once sync.Once
	mu   sync.RWMutex
	shut bool
}

type auditReq struct {
	e   store.AuditEntry
	err chan error
}

// NewBatchAuditor starts the writer; seal is access.HashEntry; max bounds
// the entries per transaction (default 256). Close it at shutdown.
func NewBatchAuditor(st interface {
	InTx(context.Context, func(store.Tx) error) error
}, seal store.AuditSealer, max int) *BatchAuditor {
	if max <= 0 {
		max = 256
	}
	a := &BatchAuditor{st: st, seal: seal, max: max, ch: make(chan auditReq, 4*max), done: make(chan struct{})}
	go a.run()
	return a
}

// StoreEntry is e as the store records it: the object "type/id".
func StoreEntry(e AuditEntry) store.AuditEntry {
	typ, id, _ := strings.Cut(e.Object, "/")
	return store.AuditEntry{At: e.At, ActorUser: e.Principal.UserID, ActorAgency: e.Principal.AgencyID,
		Action: e.Action, ObjectType: typ, ObjectID: id, Details: e.Detail}
}

// Audit implements Auditor.
func (a *BatchAuditor) Audit(ctx context.Context, e AuditEntry) error {
	r := auditReq{e: StoreEntry(e), err: make(chan error, 1)}
	a.mu.RLock()
	if a.shut {
		a.mu.RUnlock()
		return ErrAuditClosed
	}
	select {
	case a.ch <- r:
	case <-ctx.Done():
		a.mu.RUnlock()
		return ctx.Err()
	}
	a.mu.RUnlock()
	select {
	case err := <-r.err:
		return err
	case <-ctx.Done():
		return ctx.Err() // it is still written
	}
}

func (a *BatchAuditor) run() {
	defer close(a.done)
	batch := make([]auditReq, 0, a.max)
	for r := range a.ch {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < a.max {
			select {
			case r, ok := <-a.ch:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		err := a.st.InTx(context.Background(), func(tx store.Tx) error {
			for _, r := range batch {
				if _, err := tx.AppendAudit(context.Background(), r.e, a.seal); err != nil {
					return err
				}
			}
			return nil
		})
		for _, r := range batch {
			r.err <- err
		}
	}
}

// Close writes what is queued and stops.
func (a *BatchAuditor) Close() {
	a.once.Do(func() {
		a.mu.Lock()
		a.shut = true
		close(a.ch)
		a.mu.Unlock()
		<-a.done
	})
}
