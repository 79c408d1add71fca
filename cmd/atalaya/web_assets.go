package main

import "io/fs"

// webAssets is the web map served at / (nil until the web package is part
// of the build: then web.Assets).
var webAssets fs.FS
