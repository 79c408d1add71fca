// Package nodecot runs an independent Cursor-on-Target parser, the npm
// package @tak-ps/node-cot 14.23.2 (MIT), for tests that check the events
// Atalaya writes against software nobody here wrote: each event is parsed
// and validated against node-cot's schema (CoTParser.from_xml) and converted
// to GeoJSON (CoTParser.to_geojson). It needs Node.js and npm; the package
// is installed on first use with `npm ci` into internal/cot/testdata/node
// (package.json and package-lock.json committed, node_modules git-ignored).
package nodecot

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/atalaya-project/atalaya/internal/nodepkg"
)

// Version is the pinned version of @tak-ps/node-cot.
const Version = "14.23.2"

// Dir returns the directory holding the Node script and its package files.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "node")
}

var pkg = &nodepkg.Package{Dir: Dir(), Name: "@tak-ps/node-cot", Version: Version, Repo: "internal/cot/testdata/node"}

// Ensure installs the npm package if it is missing and checks its version.
func Ensure() error { return pkg.Ensure() }

// Result is what node-cot made of one event.
type Result struct {
	OK          bool    `json:"ok"`
	Error       string  `json:"error"`
	UID         string  `json:"uid"`
	Type        string  `json:"type"`
	How         string  `json:"how"`
	ForceDelete bool    `json:"forcedelete"` // detail has <__forcedelete>
	Group       bool    `json:"group"`       // detail has <__group>
	Feature     Feature `json:"feature"`
	// Back is the event node-cot makes from Feature again
	// (CoTParser.from_geojson).
	Back struct {
		UID, Type string
		Lat, Lon  float64
	} `json:"back"`
}

// Feature is node-cot's GeoJSON form of an event.
type Feature struct {
	ID       string `json:"id"`
	Geometry struct {
		Type        string    `json:"type"`
		Coordinates []float64 `json:"coordinates"` // lon, lat, hae
	} `json:"geometry"`
	Properties struct {
		Callsign string            `json:"callsign"`
		Type     string            `json:"type"`
		How      string            `json:"how"`
		Time     string            `json:"time"`
		Start    string            `json:"start"`
		Stale    string            `json:"stale"`
		Remarks  string            `json:"remarks"`
		Links    []json.RawMessage `json:"links"`
		Icon     string            `json:"icon"`
		Color    string            `json:"marker-color"`
	} `json:"properties"`
}

// Parse runs node-cot on each XML event, in order.
func Parse(events ...[]byte) ([]Result, error) {
	in := make([]string, len(events))
	for i, e := range events {
		in[i] = string(e)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "nodecot-*.json")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	var out []Result
	if err := pkg.RunJSON(&out, "parse.mjs", f.Name()); err != nil {
		return nil, fmt.Errorf("node-cot: %w", err)
	}
	if len(out) != len(events) {
		return nil, fmt.Errorf("node-cot: %d results for %d events", len(out), len(events))
	}
	return out, nil
}

// Decoded is what node-cot made of one TAK protocol version 1 payload
// (CoTParser.from_proto, schema-validated).
type Decoded struct {
	OK                    bool   `json:"ok"`
	Error                 string `json:"error"`
	UID, Type, How        string
	Time, Start, Stale    string
	Lat, Lon, HAE, CE, LE float64
	Callsign, Endpoint    string
	Remarks               string
	Detail                []string // the detail's element names, sorted
	Chat                  *struct {
		Chatroom       string `json:"chatroom"`
		ID             string `json:"id"`
		SenderCallsign string `json:"senderCallsign"`
	} `json:"chat"`
	// XML is the event node-cot writes from it (CoTParser.to_xml).
	XML string `json:"xml"`
}

// Encoded is node-cot's protobuf payload of an XML event
// (CoTParser.from_xml, then to_proto).
type Encoded struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Proto []byte `json:"proto"` // base64 in JSON
}

// Proto runs node-cot on TAK protocol version 1 payloads (decode) and on
// XML events (encode to protobuf), in order.
func Proto(decode [][]byte, encode [][]byte) ([]Decoded, []Encoded, error) {
	in := struct {
		Decode [][]byte `json:"decode"`
		Encode []string `json:"encode"`
	}{Decode: decode}
	for _, e := range encode {
		in.Encode = append(in.Encode, string(e))
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.CreateTemp("", "nodecot-proto-*.json")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := f.Close(); err != nil {
		return nil, nil, err
	}
	var out struct {
		Decoded []Decoded `json:"decoded"`
		Encoded []Encoded `json:"encoded"`
	}
	if err := pkg.RunJSON(&out, "proto.mjs", f.Name()); err != nil {
		return nil, nil, fmt.Errorf("node-cot: %w", err)
	}
	if len(out.Decoded) != len(decode) || len(out.Encoded) != len(encode) {
		return nil, nil, fmt.Errorf("node-cot: %d and %d results for %d and %d inputs", len(out.Decoded), len(out.Encoded), len(decode), len(encode))
	}
	return out.Decoded, out.Encoded, nil
}
