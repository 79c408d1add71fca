package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"
)

// addConfigFlag gives a command --config FILE: a JSON object whose keys are
// the command's flag names and whose values (strings, numbers or booleans)
// set the flags not given on the command line, so a deployment's settings
// (the store's and NATS's URLs, ports, TLS files) can live in one file.
func addConfigFlag(cmd *cobra.Command) {
	var path string
	cmd.Flags().StringVar(&path, "config", "", `settings file: a JSON object of flag names to values, e.g. {"db": "postgres://…", "nats": "nats://…"}; flags given on the command line win`)
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if path != "" {
			if err := applyConfig(c, path); err != nil {
				return err
			}
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

func applyConfig(cmd *cobra.Command, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("--config %s: not a JSON object of flag names to values: %w", path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := cmd.Flags().Lookup(k)
		if f == nil || k == "config" {
			return fmt.Errorf("--config %s: %q is not a flag of %s (see %s --help)", path, k, cmd.CommandPath(), cmd.CommandPath())
		}
		if f.Changed {
			continue // the command line wins
		}
		var v string
		switch x := m[k].(type) {
		case string:
			v = x
		case bool:
			v = fmt.Sprint(x)
		case float64:
			v = fmt.Sprint(x)
		default:
			return fmt.Errorf("--config %s: %q: want a string, number or boolean", path, k)
		}
		if err := cmd.Flags().Set(k, v); err != nil {
			return fmt.Errorf("--config %s: %q = %q: %w", path, k, v, err)
		}
	}
	return nil
}
