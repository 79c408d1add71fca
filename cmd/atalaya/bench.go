package main

import "github.com/spf13/cobra"

func newBenchCmd(g *app) *cobra.Command {
	return &cobra.Command{Use: "bench", Hidden: true}
}
