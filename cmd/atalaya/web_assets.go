package main

import (
	"io/fs"

	"github.com/atalaya-project/atalaya/web"
)

// webAssets is the web map served at / (web/static, embedded).
var webAssets fs.FS = web.Assets
