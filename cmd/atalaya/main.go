// Command atalaya finds clandestine drug laboratories in drone survey data:
// imaging-spectrometer cubes, point-sensor traces and flight logs. Each
// subcommand turns its flags into a typed configuration and calls a package;
// the work is done in internal/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "atalaya: interrupted")
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "atalaya:", err)
		os.Exit(1)
	}
}
