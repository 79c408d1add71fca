package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Assets is the built web map: index.html at its root, the application's
// modules under js/, the catalogues under i18n/ and the vendored packages
// under vendor/.
var Assets fs.FS = mustSub(static, "static")

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // programmer error: the embedded directory is fixed at build time
	}
	return s
}
