package server

import "github.com/atalaya-project/atalaya/internal/access"

// The access contract's names, as the server uses them.
type (
	// Role is a user's role.
	Role = access.Role
	// Principal is who is calling.
	Principal = access.Principal
	// Action is one API verb, checked by Principal.Can.
	Action = access.Action
)

// Visible reports whether p may see a site owned by owner and released to
// releasedTo (access.Visible).
func Visible(p Principal, owner string, releasedTo []string) bool {
	return access.Visible(p, owner, releasedTo)
}

// Agency is an agency as the API shows it.
type Agency struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Country string `json:"country"` // ISO 3166-1 alpha-3
	Lang    string `json:"lang"`
	Host    bool   `json:"host"` // host-nation agency owning the sites in Country
}

// PrincipalJSON is a principal as the API shows it.
type PrincipalJSON struct {
	UserID   string `json:"user_id"`
	AgencyID string `json:"agency_id"`
	Role     Role   `json:"role"`
	Lang     string `json:"lang"`
}

func principalJSON(p Principal) PrincipalJSON {
	return PrincipalJSON{UserID: p.UserID, AgencyID: p.AgencyID, Role: p.Role, Lang: p.Lang}
}
