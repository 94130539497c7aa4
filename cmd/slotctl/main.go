// Command slotctl is the command-line face of slotrouter: it tells where
// keys live in a Redis Cluster, checks a cluster's slot layout, and plans
// and applies slot moves.
//
// Usage:
//
//	slotctl keyslot [-json] KEY...   slot and hash tag of each key ("-" reads keys from stdin)
//	slotctl apply -addr HOST:PORT PLANFILE   execute a plan on a live cluster (resumable)
//
// Run "slotctl help" for every subcommand.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	finished := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// The first signal stops the command between steps (apply lets
			// a step in flight finish, up to its timeout); a second one
			// gets the default handling and ends the process at once
			// (apply resumes from any point).
			stop()
			fmt.Fprintln(os.Stderr, "slotctl: stopping; send the signal again to quit at once")
		case <-finished:
		}
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	close(finished)
	stop()
	os.Exit(code)
}

// run executes one slotctl invocation and returns the process exit code:
// 0 success, 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "keyslot":
		return runKeyslot(ctx, rest, stdin, stdout, stderr)
	case "plan":
		return runPlan(ctx, rest, stdin, stdout, stderr)
	case "check":
		return runCheck(ctx, rest, stdin, stdout, stderr)
	case "apply":
		return runApply(ctx, rest, stdin, stdout, stderr)
	case "demo":
		fmt.Fprintln(stderr, "slotctl: the demo is its own command now: go run ./cmd/slotdemo")
		return 2
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "slotctl: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `slotctl: where keys live in a Redis Cluster, and how to move slots safely.

Commands:
  keyslot [-json] KEY...   print the slot and hash tag of each key ("-" reads keys, one per line, from stdin)
  plan SUBCOMMAND ...      plan rebalance/add/remove/reshard/load moves, placement and repair ("slotctl plan help")
  check -nodes FILE | -addr HOST:PORT
                           report open, uncovered and contested slots, failed nodes, anti-affinity
  apply -addr HOST:PORT PLANFILE
                           execute a plan on the live cluster ("-": plan from stdin); resumable,
                           progress on a terminal or JSON lines ("slotctl apply -h")
  help                     this text

Every command that talks to a cluster (check -addr, plan ... -addr, apply) takes
-user, -pass (default $REDISCLI_AUTH), -tls, -cacert, -cert, -key and -insecure.
`)
}
