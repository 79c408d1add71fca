package main

import "github.com/atalaya-project/atalaya/web"

// webAssets is the web map served at /.
var webAssets = web.Assets
