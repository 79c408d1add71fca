package access

import (
	"fmt"
	"strings"
	"testing"
)

// table is the permission table as docs/access.md prints it: Y where the
// role may, . where it may not. The test asserts Can against every cell, so
// a change to Permissions must change this table (and the doc) too.
const table = `
action               administrator operator analyst partner viewer
sites:read           Y             Y        Y       Y       Y
evidence:read        Y             Y        Y       Y       Y
queue:read           Y             .        Y       .       .
sites:decide         Y             .        Y       .       .
sites:release        Y             .        Y       .       .
sites:ground-truth   Y             .        Y       Y       .
granules:read        Y             Y        Y       .       .
granules:upload      Y             Y        .       .       .
coverage:read        Y             Y        Y       .       Y
sites:export         Y             .        Y       Y       .
agencies:read        Y             Y        Y       Y       Y
agencies:manage      Y             .        .       .       .
users:read           Y             .        .       .       .
users:manage         Y             .        .       .       .
tokens:manage        Y             .        .       .       .
audit:read           Y             .        .       .       .
`

func TestPermissionTable(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(table), "\n")
	head := strings.Fields(lines[0])[1:]
	if len(head) != len(Roles) {
		t.Fatalf("table has %d roles, Roles %d", len(head), len(Roles))
	}
	for i, r := range head {
		if Role(r) != Roles[i] {
			t.Fatalf("table column %d is %s, Roles[%d] = %s", i, r, i, Roles[i])
		}
	}
	if len(lines)-1 != len(Actions) {
		t.Fatalf("table has %d actions, Actions %d", len(lines)-1, len(Actions))
	}
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		a := Action(f[0])
		if a != Actions[i] {
			t.Fatalf("table row %d is %s, Actions[%d] = %s", i, a, i, Actions[i])
		}
		for j, cell := range f[1:] {
			p := Principal{UserID: "u", AgencyID: "A", Role: Roles[j]}
			t.Run(fmt.Sprintf("%s/%s", Roles[j], a), func(t *testing.T) {
				if got, want := p.Can(a), cell == "Y"; got != want {
					t.Errorf("Can = %v, table says %v", got, want)
				}
			})
		}
	}
	// Print the table as the doc shows it (go test -v).
	var b strings.Builder
	b.WriteString("| action |")
	for _, r := range Roles {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|---|---|---|---|---|\n")
	for _, a := range Actions {
		b.WriteString("| `" + string(a) + "` |")
		for _, r := range Roles {
			if (Principal{Role: r}).Can(a) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
	t.Log("\n" + b.String())
}

func TestUnknownRoleAndActionMayNothing(t *testing.T) {
	for _, a := range Actions {
		if (Principal{AgencyID: "A", Role: "root"}).Can(a) || (Principal{AgencyID: "A"}).Can(a) {
			t.Errorf("unknown or empty role may %s", a)
		}
	}
	for _, r := range Roles {
		if (Principal{AgencyID: "A", Role: r}).Can("sites:delete") {
			t.Errorf("%s may an unknown action", r)
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Administrator", "admin", "analyst "} {
		if _, err := ParseRole(s); err == nil || !strings.Contains(err.Error(), "want administrator") {
			t.Errorf("ParseRole(%q): %v", s, err)
		}
	}
}

func TestVisible(t *testing.T) {
	col := Principal{UserID: "u1", AgencyID: "COL-DIRAN", Role: RoleAnalyst}
	per := Principal{UserID: "u2", AgencyID: "PER-DIRANDRO", Role: RolePartner}
	none := Principal{UserID: "u3", Role: RoleViewer}
	cases := []struct {
		p        Principal
		owner    string
		released []string
		want     bool
	}{
		{col, "COL-DIRAN", nil, true},
		{per, "COL-DIRAN", nil, false},
		{per, "COL-DIRAN", []string{"ECU-PN", "PER-DIRANDRO"}, true},
		{per, "COL-DIRAN", []string{"PER-DIRANDRO2"}, false},
		{col, "", nil, false},
		{per, "", []string{"PER-DIRANDRO"}, true},
		{none, "", nil, false},
		{none, "", []string{""}, false},
		{Principal{AgencyID: "A", Role: RoleAdministrator}, "B", nil, false}, // administrators too see only their agency's
	}
	for i, c := range cases {
		if got := Visible(c.p, c.owner, c.released); got != c.want {
			t.Errorf("case %d: Visible(%+v, %q, %q) = %v, want %v", i, c.p, c.owner, c.released, got, c.want)
		}
	}
}

func TestCanRelease(t *testing.T) {
	cases := []struct {
		p     Principal
		owner string
		want  bool
	}{
		{Principal{AgencyID: "COL", Role: RoleAnalyst}, "COL", true},
		{Principal{AgencyID: "COL", Role: RoleAdministrator}, "COL", true},
		{Principal{AgencyID: "PER", Role: RoleAnalyst}, "COL", false}, // not the owner
		{Principal{AgencyID: "COL", Role: RoleOperator}, "COL", false},
		{Principal{AgencyID: "COL", Role: RolePartner}, "COL", false},
		{Principal{Role: RoleAnalyst}, "", false},
	}
	for i, c := range cases {
		if got := CanRelease(c.p, c.owner); got != c.want {
			t.Errorf("case %d: CanRelease(%+v, %q) = %v", i, c.p, c.owner, got)
		}
	}
}

func TestDecisionAction(t *testing.T) {
	for d, want := range map[string]Action{"confirm": Decide, "dismiss": Decide, "revisit": Decide, "release": Release, "ground-truth": ReportGroundTruth} {
		if got, err := DecisionAction(d); err != nil || got != want {
			t.Errorf("DecisionAction(%q) = %q, %v", d, got, err)
		}
	}
	if _, err := DecisionAction("delete"); err == nil {
		t.Error("DecisionAction(delete) accepted")
	}
}

func TestAgencyValidate(t *testing.T) {
	ok := Agency{ID: "COL-DIRAN", Name: "Dirección de Antinarcóticos", Country: "COL", Lang: "es", Host: true}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mod  func(*Agency)
		want string
	}{
		{func(a *Agency) { a.ID = "" }, "agency id"},
		{func(a *Agency) { a.ID = " x" }, "agency id"},
		{func(a *Agency) { a.Name = "" }, "name is empty"},
		{func(a *Agency) { a.Country = "CO" }, "alpha-3"},
		{func(a *Agency) { a.Country = "col" }, "alpha-3"},
		{func(a *Agency) { a.Lang = "fr" }, "want es, en or pt"},
	} {
		a := ok
		c.mod(&a)
		if err := a.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", a, err, c.want)
		}
	}
}
