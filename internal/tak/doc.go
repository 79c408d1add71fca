// Package tak connects Atalaya to the TAK ecosystem (ATAK, WinTAK, iTAK, TAK
// Server): it sends released sites as Cursor-on-Target (package cot) to
// field devices and to partners' TAK servers, and runs the certificate
// authority that field devices authenticate with.
//
// # Parts
//
//   - CA: Atalaya's own certificate authority (RSA, kept in a directory:
//     ca.pem, ca-key.pem mode 0600), the TLS certificate of the TAK ports,
//     and client certificates issued from devices' certificate signing
//     requests ([CA.SignClient], [Issuer]) and recorded in the store
//     (store.TAKCert: serial, user, agency) so that they can be revoked
//     one by one or per user.
//   - Enrollment (port 8446, [EnrollmentHandler]): HTTPS with HTTP Basic
//     authentication (the Atalaya username and password), the Marti paths
//     ATAK and iTAK call: GET /Marti/api/tls/config, POST
//     /Marti/api/tls/signClient (a PKCS #12 trust store with the alias
//     "signedCert"), POST /Marti/api/tls/signClient/v2 (JSON or XML), GET
//     /Marti/api/tls/profile/enrollment.
//   - API (port 8443, [APIHandler]): client certificate required;
//     /Marti/api/version, /Marti/api/version/config,
//     /Marti/api/device/profile/connection.
//   - Streaming (port 8089, [Stream]): TLS with a client certificate that
//     the store knows and has not revoked; the certificate names the user,
//     the user's agency decides what the device sees. XML CoT, or TAK
//     protocol version 1 (protobuf frames) for a device that asks: the
//     server offers version 1 on connect (t-x-takp-v) and switches a device
//     that requests it (t-x-takp-q, answered t-x-takp-r); pings
//     (t-x-c-t) answered with t-x-c-t-r; every live released site of the
//     agency sent on connect, then every change ([Stream.Deliver]), and a
//     periodic reconciliation with the store ([Stream.Refresh]). Ground-truth
//     replies devices send (cot.ParseGroundTruth: the site's marker sent
//     back with an outcome hashtag, a GeoChat message with the site's short
//     id, or an <atalaya_ground_truth> element) are recorded for the
//     certificate's user through feed.RecordGroundTruth ([FeedGroundTruth]),
//     refused for sites the user's agency may not see. Each reply is
//     acknowledged with a GeoChat message from "Atalaya" in the agency's
//     language: what was recorded for which site, or why not ([AckFor]).
//   - Pusher ([Pusher]): Atalaya as a client of a partner's TAK server, CoT
//     over TLS with a client certificate (8089) or plain TCP (8087): TAK
//     protocol version 1 when the server offers it (within OfferWait of
//     connecting, or later), XML otherwise and after a request the server
//     left unanswered; reconnecting with jittered exponential backoff, the
//     snapshot sent again on every connect, pings answered, _flow-tags_
//     stripped in either protocol.
//
// [Stream] and [Pusher] are outbox sinks (Name, Deliver(ctx, store.Alert)):
// the feed dispatcher gives them the alerts of site changes.
//
// # Invariants
//
//   - Releasability: nothing about a site (marker or withdrawal) reaches a
//     device or server of an agency that neither owns the site nor had it
//     released to it ([Knows]); a marker is shown only while the site is
//     released and live ([Shows]).
//   - One stable uid per site (cot.SiteUID); a device gets, per site, only
//     versions newer than the last it was sent.
//   - A certificate chaining to the CA is refused unless the store has it
//     and it is not revoked, at every TLS handshake and API request.
//
// docs/tak.md has the type choice, the enrollment flow, what ATAK shows and
// why federation is out of scope.
package tak
