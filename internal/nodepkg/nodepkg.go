// Package nodepkg runs npm packages that tests use as independent
// references (software nobody here wrote: @foxglove/ulog, node-mavlink). A
// Package is a folder with a committed package.json and package-lock.json;
// its node_modules is installed on first use with `npm ci` (and git-ignored),
// and its version checked, so a test fails with the command to run — it
// never skips — when Node.js or npm cannot do it.
package nodepkg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Package is one npm package installed into Dir.
type Package struct {
	Dir     string // the folder with package.json, package-lock.json and the scripts
	Name    string // e.g. "@foxglove/ulog"
	Version string // the pinned version
	// Repo is Dir relative to the repository root, for the error message.
	Repo string

	once sync.Once
	err  error
}

// Ensure installs the package if it is missing and checks its version.
func (p *Package) Ensure() error {
	p.once.Do(func() {
		pkg := filepath.Join(p.Dir, "node_modules", filepath.FromSlash(p.Name), "package.json")
		if _, err := os.Stat(pkg); err != nil {
			out, err := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--prefix", p.Dir).CombinedOutput()
			if err != nil {
				p.err = fmt.Errorf("npm ci failed: %v\n%s", err, out)
				return
			}
		}
		b, err := os.ReadFile(pkg)
		if err != nil {
			p.err = err
			return
		}
		var v struct{ Version string }
		if err := json.Unmarshal(b, &v); err != nil || v.Version != p.Version {
			p.err = fmt.Errorf("%s version %q (err %v), want %s", p.Name, v.Version, err, p.Version)
		}
	})
	if p.err != nil {
		return fmt.Errorf("the independent reference %s is not usable: %w\nto install it run (Node 20, npm):\n  npm ci --prefix %s", p.Name, p.err, p.Repo)
	}
	return nil
}

// RunJSON runs `node args…` in Dir and decodes its standard output as JSON
// into out.
func (p *Package) RunJSON(out any, args ...string) error {
	if err := p.Ensure(); err != nil {
		return err
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = p.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("node %v: %v\n%s", args, err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("node %v: output: %w", args, err)
	}
	return nil
}
