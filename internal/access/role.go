package access

import (
	"fmt"
	"slices"
)

// Role is what a user may do, the same in every agency.
type Role string

// Roles, most to least privileged.
const (
	// RoleAdministrator manages agencies, users and tokens, reads the audit
	// log, and may do everything else too (keep administrators few).
	RoleAdministrator Role = "administrator"
	// RoleOperator flies surveys: uploads granules, watches coverage.
	RoleOperator Role = "operator"
	// RoleAnalyst works the review queue: decides and releases sites.
	RoleAnalyst Role = "analyst"
	// RolePartner is a partner agency's user: sees what was released to
	// its agency, exports it and reports ground truth.
	RolePartner Role = "partner"
	// RoleViewer reads its agency's sites and coverage, changes nothing.
	RoleViewer Role = "viewer"
)

// Roles lists every role, most privileged first.
var Roles = []Role{RoleAdministrator, RoleOperator, RoleAnalyst, RolePartner, RoleViewer}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("role %q: want administrator, operator, analyst, partner or viewer", s)
}

// Action is one thing the API lets a caller do; each API verb needs one.
type Action string

// Actions, with the API verbs that need them (prefix /api/v1).
const (
	// ReadSites: GET /sites, GET /sites/{id}, GET /events (filtered by
	// Visible for every role).
	ReadSites Action = "sites:read"
	// ReadEvidence: GET /sites/{id}/evidence, GET /sites/{id}/plume.png.
	ReadEvidence Action = "evidence:read"
	// ReadQueue: GET /queue (the review queue).
	ReadQueue Action = "queue:read"
	// Decide: POST /sites/{id}/decisions with confirm, dismiss or revisit.
	Decide Action = "sites:decide"
	// Release: POST /sites/{id}/decisions with release (and the agency
	// must own the site: see CanRelease).
	Release Action = "sites:release"
	// ReportGroundTruth: POST /sites/{id}/decisions with ground-truth.
	ReportGroundTruth Action = "sites:ground-truth"
	// ReadGranules: GET /granules, GET /granules/{id}, GET /detections.
	ReadGranules Action = "granules:read"
	// UploadGranules: POST /granules, PATCH /granules/{id}.
	UploadGranules Action = "granules:upload"
	// ReadCoverage: GET /coverage, GET /tracks.
	ReadCoverage Action = "coverage:read"
	// Export: GeoJSON/KML export of the sites a principal can see.
	Export Action = "sites:export"
	// ReadAgencies: GET /agencies.
	ReadAgencies Action = "agencies:read"
	// ManageAgencies: create and change agencies (CLI `atalaya agency`).
	ManageAgencies Action = "agencies:manage"
	// ReadUsers: GET /users.
	ReadUsers Action = "users:read"
	// ManageUsers: create users, set passwords, disable (CLI `atalaya user`).
	ManageUsers Action = "users:manage"
	// ManageTokens: create and revoke API tokens (CLI `atalaya token`).
	ManageTokens Action = "tokens:manage"
	// ReadAudit: read and verify the audit log.
	ReadAudit Action = "audit:read"
)

// Actions lists every action in the order of the permission table.
var Actions = []Action{
	ReadSites, ReadEvidence, ReadQueue, Decide, Release, ReportGroundTruth,
	ReadGranules, UploadGranules, ReadCoverage, Export,
	ReadAgencies, ManageAgencies, ReadUsers, ManageUsers, ManageTokens, ReadAudit,
}

// Permissions is the role × action table: Permissions[a] lists the roles
// that may perform a. It is the only source of [Principal.Can]; a role not
// listed may not. Site-level rules come on top: every read of a site is
// filtered by Visible, and a release needs the owning agency (CanRelease).
//
// Why these cells: operators fly and upload but do not judge what they
// found (separation of duties: the analyst decides); partners see only what
// was released to them and report back what they found on the ground, but
// not survey data, coverage or flight tracks (those reveal where and when
// aircraft fly); viewers read and change nothing.
var Permissions = map[Action][]Role{
	ReadSites:         {RoleAdministrator, RoleOperator, RoleAnalyst, RolePartner, RoleViewer},
	ReadEvidence:      {RoleAdministrator, RoleOperator, RoleAnalyst, RolePartner, RoleViewer},
	ReadQueue:         {RoleAdministrator, RoleAnalyst},
	Decide:            {RoleAdministrator, RoleAnalyst},
	Release:           {RoleAdministrator, RoleAnalyst},
	ReportGroundTruth: {RoleAdministrator, RoleAnalyst, RolePartner},
	ReadGranules:      {RoleAdministrator, RoleOperator, RoleAnalyst},
	UploadGranules:    {RoleAdministrator, RoleOperator},
	ReadCoverage:      {RoleAdministrator, RoleOperator, RoleAnalyst, RoleViewer},
	Export:            {RoleAdministrator, RoleAnalyst, RolePartner},
	ReadAgencies:      {RoleAdministrator, RoleOperator, RoleAnalyst, RolePartner, RoleViewer},
	ManageAgencies:    {RoleAdministrator},
	ReadUsers:         {RoleAdministrator},
	ManageUsers:       {RoleAdministrator},
	ManageTokens:      {RoleAdministrator},
	ReadAudit:         {RoleAdministrator},
}

// Principal is an authenticated caller.
type Principal struct {
	UserID   string
	AgencyID string
	Role     Role
	Lang     string // "es", "en" or "pt": the user's language
}

// Can reports whether p's role may perform a, from Permissions. An unknown
// action or role may do nothing.
func (p Principal) Can(a Action) bool {
	return slices.Contains(Permissions[a], p.Role)
}

// Visible reports whether p may see a site owned by agency owner and
// released to the agencies releasedTo: p's agency owns it or it was released
// to p's agency. A principal without an agency sees nothing, and a site
// without an owner is seen only by the agencies it was released to.
func Visible(p Principal, owner string, releasedTo []string) bool {
	if p.AgencyID == "" {
		return false
	}
	return owner == p.AgencyID || slices.Contains(releasedTo, p.AgencyID)
}

// CanRelease reports whether p may release a site owned by owner: p's role
// may release and p's agency owns the site.
func CanRelease(p Principal, owner string) bool {
	return p.Can(Release) && p.AgencyID != "" && p.AgencyID == owner
}

// DecisionAction is the Action a decision needs: confirm, dismiss and
// revisit need Decide, release needs Release, ground-truth needs
// ReportGroundTruth.
func DecisionAction(decision string) (Action, error) {
	switch decision {
	case "confirm", "dismiss", "revisit":
		return Decide, nil
	case "release":
		return Release, nil
	case "ground-truth":
		return ReportGroundTruth, nil
	}
	return "", fmt.Errorf("decision action %q: want confirm, dismiss, revisit, release or ground-truth", decision)
}
