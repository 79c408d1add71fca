module github.com/atalaya-project/atalaya

go 1.26.8

require (
	github.com/golang/geo v0.0.0-20260818125358-b200a1149890
	github.com/paulmach/orb v0.14.0
	github.com/spf13/cobra v1.10.2
	golang.org/x/sys v0.50.0
	gonum.org/v1/gonum v0.17.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	go.mongodb.org/mongo-driver/v2 v2.5.0 // indirect
)
