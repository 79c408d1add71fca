// Package access decides who may do what in Atalaya and keeps the record of
// what they did: agencies, users and their roles, API tokens, browser
// sessions, jurisdiction (which agency owns a site), releasability (which
// agencies may see it) and the hash-chained audit log.
//
// # Roles and actions
//
// Every API verb maps to one [Action]; a [Principal] (the authenticated
// caller: user, agency, role) may perform it if [Principal.Can] says so.
// Can reads one table, [Permissions], written out in docs/access.md; the
// tests assert every cell of it.
//
// # Jurisdiction and releasability
//
// A site belongs to the host agency of the country (Natural Earth admin-0
// polygon, package boundaries) that contains it ([Service.OwnerOf]). A
// principal sees a site if its agency owns it or the site was released to
// its agency ([Visible]); only the owning agency may release a site
// ([CanRelease], [Service.Release], which writes the release rows and their
// audit entry in the transaction of the release decision).
//
// # Credentials
//
// Passwords are stored as argon2id PHC strings ([HashPassword],
// [VerifyPassword]); API tokens ("atl_" + 32 random bytes, base64url) and
// session ids are random and stored only as SHA-256 digests; sessions end
// after an idle time and an absolute lifetime and carry a CSRF token
// (synchronizer pattern: stored with the session, compared in constant
// time with the X-CSRF-Token header). [Service.Authenticate] turns an HTTP
// request into a Principal or one of [ErrUnauthorized], [ErrExpired],
// [ErrForged], [ErrCSRF]. [Bootstrap] creates the first administrator.
//
// # Storage
//
// The rows live in package store (schema version 2), reached through the
// narrow [Store] interface; every write that changes access records goes
// through a store transaction together with its audit entry.
//
// # Audit
//
// Every change, and every read the server chooses to record, is appended to
// the audit log in the transaction of the change. Each entry's hash is
// SHA-256 over a canonical encoding of its fields and the previous entry's
// hash ([HashEntry]); [VerifyChain] walks the chain and names the first
// entry that was edited, deleted, inserted or reordered. Times are
// microseconds since the Unix epoch, UTC.
package access
