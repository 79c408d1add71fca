// Package nodemavlink runs an independent MAVLink implementation, the npm
// package node-mavlink 2.3.0 (LGPL; message definitions from
// mavlink-mappings, generated from the MAVLink XML), for tests that check
// Atalaya's MAVLink code against software nobody here wrote. It needs
// Node.js and npm; the package is installed on first use with `npm ci` into
// internal/mavlink/testdata/node (package.json and package-lock.json are
// committed there, node_modules is git-ignored).
package nodemavlink

import (
	"encoding/json"
	"path/filepath"
	"runtime"

	"github.com/atalaya-project/atalaya/internal/nodepkg"
)

// Version is the pinned version of node-mavlink.
const Version = "2.3.0"

// Dir returns the directory holding the Node scripts and package files.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "node")
}

var pkg = &nodepkg.Package{Dir: Dir(), Name: "node-mavlink", Version: Version, Repo: "internal/mavlink/testdata/node"}

// Ensure installs the npm package if it is missing and checks its version.
// The error says how to install it by hand.
func Ensure() error { return pkg.Ensure() }

// Fields are a message's fields by XML name: numbers as JSON numbers,
// uint64 values as strings.
type Fields map[string]json.RawMessage

// Record is one frame gen_tlog.mjs wrote.
type Record struct {
	T             string `json:"t"` // tlog time, µs since the Unix epoch
	Version       int    `json:"version"`
	Seq           uint8  `json:"seq"`
	SysID         uint8  `json:"sysid"`
	CompID        uint8  `json:"compid"`
	MsgID         uint32 `json:"msgid"`
	Name          string `json:"name"`
	Signed        bool   `json:"signed"`
	PayloadLength int    `json:"payloadLength"`
	Fields        Fields `json:"fields"`
}

// Packet is one frame node-mavlink's parser read.
type Packet struct {
	STX           int    `json:"stx"` // start byte: 0xFE v1, 0xFD v2
	PayloadLength int    `json:"payloadLength"`
	Incompat      uint8  `json:"incompat"`
	Compat        uint8  `json:"compat"`
	Seq           uint8  `json:"seq"`
	SysID         uint8  `json:"sysid"`
	CompID        uint8  `json:"compid"`
	MsgID         uint32 `json:"msgid"`
	CRC           uint16 `json:"crc"`
	Signed        bool   `json:"signed"`
	Name          string `json:"name"`
	Fields        Fields `json:"fields"`
}

// Parsed is what parse.mjs prints: the splitter's counts and the packets.
type Parsed struct {
	Valid   int      `json:"valid"`
	Invalid int      `json:"invalid"`
	Unknown int      `json:"unknown"`
	Packets []Packet `json:"packets"`
}

func run(out any, args ...string) error { return pkg.RunJSON(out, args...) }

// WriteTlog has node-mavlink write its test telemetry log to path and
// returns the records it wrote.
func WriteTlog(path string) ([]Record, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	var recs []Record
	return recs, run(&recs, "gen_tlog.mjs", abs)
}

// Parse reads a file of MAVLink frames with node-mavlink's parser.
func Parse(path string) (*Parsed, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	var p Parsed
	return &p, run(&p, "parse.mjs", abs)
}
