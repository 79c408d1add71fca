// Package foxglove runs an independent ULog reader, the npm package
// @foxglove/ulog 2.3.2 (MIT), for tests that check Atalaya's flight logs
// against software nobody here wrote. It needs Node.js and npm; the package
// is installed on first use with `npm ci` into
// internal/flightlog/testdata/node (package.json and package-lock.json are
// committed there, node_modules is git-ignored).
package foxglove

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/atalaya-project/atalaya/internal/nodepkg"
)

// Version is the pinned version of @foxglove/ulog.
const Version = "2.3.2"

// Dir returns the directory holding the Node script and its package files.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "node")
}

var pkg = &nodepkg.Package{Dir: Dir(), Name: "@foxglove/ulog", Version: Version, Repo: "internal/flightlog/testdata/node"}

// Ensure installs the npm package if it is missing and checks its version.
// The error says how to install it by hand.
func Ensure() error { return pkg.Ensure() }

// Dump is what the Node script prints for a log: per topic instance
// ("name/multi_id"), the timestamps and every field's values as JSON
// (integers beyond 2⁵³ and −0 as strings).
type Dump struct {
	Version   int                        `json:"version"`
	Timestamp string                     `json:"timestamp"`
	Info      map[string]json.RawMessage `json:"info"`
	Counts    map[string]int             `json:"counts"`
	Logs      int                        `json:"logs"`
	Topics    map[string]struct {
		Timestamps []string                     `json:"timestamps"`
		Fields     map[string][]json.RawMessage `json:"fields"`
	} `json:"topics"`
}

// DumpFile reads a ULog file with @foxglove/ulog; topics is a
// comma-separated list of topic names, or "*" for all.
func DumpFile(path, topics string) (*Dump, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	var d Dump
	if err := pkg.RunJSON(&d, "foxglove_dump.mjs", abs, topics); err != nil {
		return nil, fmt.Errorf("foxglove dump of %s: %w", path, err)
	}
	return &d, nil
}
