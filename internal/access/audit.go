package access

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// Audit actions recorded by this package. The server records its own
// (decisions, reads) with the same Record.
const (
	AuditLogin          = "login"
	AuditLoginFailed    = "login.failed"
	AuditLogout         = "logout"
	AuditAgencyCreate   = "agency.create"
	AuditUserCreate     = "user.create"
	AuditUserPassword   = "user.password"
	AuditUserDisable    = "user.disable"
	AuditUserEnable     = "user.enable"
	AuditTokenCreate    = "token.create"
	AuditTokenRevoke    = "token.revoke"
	AuditSiteRelease    = "site.release"
	AuditRead           = "read"
	AuditBootstrap      = "bootstrap"
	auditDomain         = "atalaya-audit-v1"
	auditDomainSentinel = 0
)

// HashEntry is an audit entry's hash: the lower-case hex SHA-256 of its
// canonical encoding,
//
//	"atalaya-audit-v1" 0x00
//	seq (8 bytes, big-endian) at_us (8 bytes, big-endian, two's complement)
//	then actor_user, actor_agency, action, object_type, object_id,
//	details, prev_hash, each as a 4-byte big-endian byte length and the
//	UTF-8 bytes.
//
// Every field is length-prefixed, so no two different entries encode alike;
// prev_hash chains each entry to the one before (empty for the first).
func HashEntry(e store.AuditEntry) string {
	h := sha256.New()
	var b [8]byte
	h.Write([]byte(auditDomain))
	h.Write([]byte{auditDomainSentinel})
	binary.BigEndian.PutUint64(b[:], uint64(e.Seq))
	h.Write(b[:])
	var at int64
	if !e.At.IsZero() {
		at = e.At.UnixMicro()
	}
	binary.BigEndian.PutUint64(b[:], uint64(at))
	h.Write(b[:])
	for _, s := range []string{e.ActorUser, e.ActorAgency, e.Action, e.ObjectType, e.ObjectID, e.Details, e.PrevHash} {
		binary.BigEndian.PutUint32(b[:4], uint32(len(s)))
		h.Write(b[:4])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Event is something to record in the audit log.
type Event struct {
	Actor      Principal
	Action     string // e.g. "site.release", "read"
	ObjectType string // e.g. "site", "user", "agency", "token"
	ObjectID   string
	Details    any // encoded as JSON (nil: none)
}

// Record appends e to the audit log through w: pass the store.Tx of the
// change it records, so the entry exists if and only if the change does (a
// *store.DB appends in a transaction of its own, e.g. for reads).
func Record(ctx context.Context, w store.AuditWriter, e Event) (store.AuditEntry, error) {
	var details string
	if e.Details != nil {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return store.AuditEntry{}, fmt.Errorf("audit %s: details: %w", e.Action, err)
		}
		details = string(b)
	}
	out, err := w.AppendAudit(ctx, store.AuditEntry{
		ActorUser: e.Actor.UserID, ActorAgency: e.Actor.AgencyID, Action: e.Action,
		ObjectType: e.ObjectType, ObjectID: e.ObjectID, Details: details,
	}, HashEntry)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("audit %s %s %s: %w", e.Action, e.ObjectType, e.ObjectID, err)
	}
	return out, nil
}

// ChainError names the first audit entry that breaks the chain.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string { return fmt.Sprintf("audit entry %d: %s", e.Seq, e.Reason) }

// ErrChain matches every *ChainError (errors.Is).
var ErrChain = errors.New("access: audit chain broken")

// Is makes errors.Is(err, ErrChain) true for a *ChainError.
func (e *ChainError) Is(target error) bool { return target == ErrChain }

// Checkpoint is a head of the audit log kept outside the database (a file
// elsewhere, a printout, a ticket): a later verify proves the log still
// holds that entry, unchanged, so the tail up to it was not cut off.
type Checkpoint struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
	// Signature is an Ed25519 signature (base64) by a key the database's
	// administrators do not hold (Sign, VerifySignature); optional.
	Signature string `json:"signature,omitempty"`
}

// Verified is what VerifyChain checked.
type Verified struct {
	Entries int64           // entries walked
	Head    store.AuditHead // the head the log ended at
}

// verifyPage is how many entries VerifyChain reads at a time.
const verifyPage = 2000

// VerifyChain walks the audit log from the first entry and returns the
// first entry that was edited (its hash no longer matches its content),
// deleted (a gap in seq), inserted or reordered (prev_hash not the hash
// before it), or a log whose end disagrees with the head row (entries cut
// off the tail, or appended around the head) or with cp, if given (an
// external checkpoint: the entry it names must be there with its hash).
// The error is a *ChainError (errors.Is ErrChain) for a broken chain.
//
// What it cannot see: someone able to rewrite the database who recomputes
// every hash from the edit onwards and moves the head is caught only by a
// checkpoint taken before the edit (see docs/access.md).
func VerifyChain(ctx context.Context, r store.AuditReader, cp *Checkpoint) (Verified, error) {
	var (
		v        Verified
		last     int64
		lastHash string
	)
	for {
		page, err := r.AuditEntries(ctx, last, verifyPage)
		if err != nil {
			return v, fmt.Errorf("verify audit chain: %w", err)
		}
		for _, e := range page {
			switch {
			case e.Seq != last+1:
				return v, &ChainError{Seq: last + 1, Reason: fmt.Sprintf("missing: the log goes from entry %d to %d (deleted)", last, e.Seq)}
			case e.PrevHash != lastHash:
				if last == 0 {
					return v, &ChainError{Seq: e.Seq, Reason: "prev_hash is not empty on the first entry (inserted or reordered)"}
				}
				return v, &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("prev_hash does not match entry %d's hash (entry %d was rewritten, or this one inserted or reordered)", last, last)}
			case HashEntry(e) != e.Hash:
				return v, &ChainError{Seq: e.Seq, Reason: "hash does not match its content (edited)"}
			}
			last, lastHash = e.Seq, e.Hash
			v.Entries++
		}
		if len(page) == verifyPage {
			continue
		}
		// At the end: the head row must point at the last entry. A head
		// ahead of the log means entries were cut off the tail (unless
		// they were appended while we walked: look again).
		h, err := r.AuditHead(ctx)
		if err != nil {
			return v, fmt.Errorf("verify audit chain: %w", err)
		}
		if h.Seq > last {
			more, err := r.AuditEntries(ctx, last, 1)
			if err != nil {
				return v, fmt.Errorf("verify audit chain: %w", err)
			}
			if len(more) > 0 {
				continue // appended meanwhile
			}
			return v, &ChainError{Seq: last + 1, Reason: fmt.Sprintf("missing: the head says the log ends at entry %d, but it ends at %d (tail truncated)", h.Seq, last)}
		}
		if h.Seq < last {
			return v, &ChainError{Seq: h.Seq + 1, Reason: fmt.Sprintf("after the head: the head says the log ends at entry %d, but it goes on to %d (appended around the head, or the head rewound)", h.Seq, last)}
		}
		if h.Hash != lastHash {
			return v, &ChainError{Seq: last, Reason: "the head's hash differs from the entry's (the head or the entry rewritten)"}
		}
		v.Head = h
		break
	}
	if cp != nil && cp.Seq > 0 {
		if cp.Seq > last {
			return v, &ChainError{Seq: last + 1, Reason: fmt.Sprintf("missing: the checkpoint of %s records entry %d, but the log ends at %d (tail truncated)", cp.At.Format(time.RFC3339), cp.Seq, last)}
		}
		es, err := r.AuditEntries(ctx, cp.Seq-1, 1)
		if err != nil {
			return v, fmt.Errorf("verify audit chain: %w", err)
		}
		if len(es) == 0 || es[0].Seq != cp.Seq || es[0].Hash != cp.Hash {
			return v, &ChainError{Seq: cp.Seq, Reason: fmt.Sprintf("differs from the checkpoint of %s (the log was rewritten from here or earlier)", cp.At.Format(time.RFC3339))}
		}
	}
	return v, nil
}

// TakeCheckpoint returns the log's current head as a checkpoint to keep
// outside the database.
func TakeCheckpoint(ctx context.Context, r store.AuditReader, now time.Time) (Checkpoint, error) {
	h, err := r.AuditHead(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit checkpoint: %w", err)
	}
	return Checkpoint{Seq: h.Seq, Hash: h.Hash, At: now.UTC()}, nil
}
