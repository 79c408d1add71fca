// Package foxglove runs an independent ULog reader, the npm package
// @foxglove/ulog 2.3.2 (MIT), for tests that check Atalaya's flight logs
// against software nobody here wrote. It needs Node.js and npm; the package
// is installed on first use with `npm ci` into
// internal/flightlog/testdata/node (package.json and package-lock.json are
// committed there, node_modules is git-ignored).
package foxglove

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// Version is the pinned version of @foxglove/ulog.
const Version = "2.3.2"

// Dir returns the directory holding the Node script and its package files.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "node")
}

var (
	once   sync.Once
	errNpm error
)

// Ensure installs the npm package if it is missing and checks its version.
// The error says how to install it by hand.
func Ensure() error {
	once.Do(func() {
		dir := Dir()
		pkg := filepath.Join(dir, "node_modules", "@foxglove", "ulog", "package.json")
		if _, err := os.Stat(pkg); err != nil {
			out, err := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--prefix", dir).CombinedOutput()
			if err != nil {
				errNpm = fmt.Errorf("npm ci failed: %v\n%s", err, out)
				return
			}
		}
		b, err := os.ReadFile(pkg)
		if err != nil {
			errNpm = err
			return
		}
		var p struct{ Version string }
		if err := json.Unmarshal(b, &p); err != nil || p.Version != Version {
			errNpm = fmt.Errorf("@foxglove/ulog version %q (err %v), want %s", p.Version, err, Version)
		}
	})
	if errNpm != nil {
		return fmt.Errorf("the independent reader @foxglove/ulog is not usable: %w\nto install it run (Node 20, npm):\n  npm ci --prefix internal/flightlog/testdata/node", errNpm)
	}
	return nil
}

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
	if err := Ensure(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "foxglove_dump.mjs", abs, topics)
	cmd.Dir = Dir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("node foxglove_dump.mjs %s: %v\n%s", path, err, stderr.String())
	}
	var d Dump
	if err := json.Unmarshal(out, &d); err != nil {
		return nil, fmt.Errorf("foxglove dump of %s: %w", path, err)
	}
	return &d, nil
}
