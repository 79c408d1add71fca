package server

// The names below are internal/access's contract (common brief, issue 6):
// Role, Agency, Principal, Action, Principal.Can and Visible. Until that
// package lands they are declared here with the contract's exact shapes;
// when it does, each becomes an alias of access's own.

// Role is a user's role.
type Role string

// Roles.
const (
	RoleAdministrator Role = "administrator"
	RoleOperator      Role = "operator"
	RoleAnalyst       Role = "analyst"
	RolePartner       Role = "partner"
	RoleViewer        Role = "viewer"
)

// Roles lists every role, for tables generated over them.
var Roles = []Role{RoleAdministrator, RoleOperator, RoleAnalyst, RolePartner, RoleViewer}

// Agency is an agency using Atalaya.
type Agency struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Country string `json:"country"` // ISO 3166-1 alpha-3
	Lang    string `json:"lang"`
	Host    bool   `json:"host"` // host-nation agency owning the sites in Country
}

// Principal is who is calling.
type Principal struct {
	UserID   string `json:"user_id"`
	AgencyID string `json:"agency_id"`
	Role     Role   `json:"role"`
	Lang     string `json:"lang"`
}

// Action is one API verb, as checked by Principal.Can.
type Action string

// Actions, one per API verb.
const (
	ActSessionRead    Action = "session.read" // me, logout
	ActSitesRead      Action = "sites.read"
	ActSitesDecide    Action = "sites.decide"
	ActSitesRelease   Action = "sites.release"
	ActQueueRead      Action = "queue.read"
	ActGranulesRead   Action = "granules.read"
	ActGranulesUpload Action = "granules.upload"
	ActDetectionsRead Action = "detections.read"
	ActCoverageRead   Action = "coverage.read"
	ActTracksRead     Action = "tracks.read"
	ActAgenciesRead   Action = "agencies.read"
	ActUsersRead      Action = "users.read"
	ActBoundariesRead Action = "boundaries.read"
	ActEventsRead     Action = "events.read"
)

// roleActions are the role rules.
var roleActions = map[Role][]Action{
	RoleAdministrator: {ActSessionRead, ActSitesRead, ActSitesDecide, ActSitesRelease, ActQueueRead,
		ActGranulesRead, ActGranulesUpload, ActDetectionsRead, ActCoverageRead, ActTracksRead,
		ActAgenciesRead, ActUsersRead, ActBoundariesRead, ActEventsRead},
	RoleOperator: {ActSessionRead, ActSitesRead, ActGranulesRead, ActGranulesUpload, ActDetectionsRead,
		ActCoverageRead, ActTracksRead, ActAgenciesRead, ActBoundariesRead, ActEventsRead},
	RoleAnalyst: {ActSessionRead, ActSitesRead, ActSitesDecide, ActSitesRelease, ActQueueRead,
		ActGranulesRead, ActDetectionsRead, ActCoverageRead, ActTracksRead, ActAgenciesRead,
		ActBoundariesRead, ActEventsRead},
	RolePartner: {ActSessionRead, ActSitesRead, ActAgenciesRead, ActBoundariesRead, ActEventsRead},
	RoleViewer:  {ActSessionRead, ActSitesRead, ActCoverageRead, ActTracksRead, ActBoundariesRead, ActEventsRead},
}

// Can reports whether p's role may do a.
func (p Principal) Can(a Action) bool {
	for _, x := range roleActions[p.Role] {
		if x == a {
			return true
		}
	}
	return false
}

// Visible reports whether p may see a site owned by owner and released to
// releasedTo: p's agency owns it or it was released to p's agency.
func Visible(p Principal, owner string, releasedTo []string) bool {
	if p.AgencyID == "" {
		return false
	}
	if p.AgencyID == owner {
		return true
	}
	for _, a := range releasedTo {
		if a == p.AgencyID {
			return true
		}
	}
	return false
}
