// Package retry holds the pure decision logic of slotrouter's
// redirect/retry loop: classifying errors, parsing MOVED/ASK redirects,
// bounded exponential backoff with full jitter, a retry budget and a
// per-node circuit breaker. It depends only on the standard library and
// does no I/O except sleeping in Wait.
//
// # Classification
//
// Classify maps an error to a Kind. Server error replies are recognised by
// the first word of the message of a leaf error in the chain (one that
// wraps nothing, such as *rueidis.RedisError, whose Error() is the reply
// line without the leading '-'), so wrapping with fmt.Errorf("...: %w")
// changes nothing and wrapping text cannot fool it. Context cancellation
// always wins; errors may state their kind by implementing Kinder;
// connection-level errors (io.EOF, net.Error, ECONNRESET...) are KindConn;
// everything else is KindOther. See Classify for the exact order.
//
// # Decision rules
//
// Decide turns a Kind, plus what is known about the command (Op), into an
// Action:
//
//   - MOVED: follow the redirect (ActionFollow): patch the slot, trigger a
//     topology refresh, send to the target. ASK: ActionAsk — ASKING plus
//     the command on the target, once, no patch.
//   - TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN: ActionBackoff — wait
//     Backoff.Delay (only if Fits the ctx deadline) and retry.
//   - READONLY: ActionRefresh — the node was demoted; refresh and retry.
//   - All of the above are replies proving the server did NOT execute the
//     command, so they are retried even for writes (Kind.NotExecuted).
//   - Connection errors: ActionRetryConn when the command was never written
//     (Op.Unsent) or is read-only or idempotent; otherwise
//     ActionFailUnknownOutcome. A write whose fate is unknown is never
//     retried silently: the caller must be told the outcome is unknown.
//   - Context cancellation and every other error: ActionFail.
//
// The loop is bounded: Limits.Counter counts redirect hops (MaxRedirects,
// default 16) and attempts (MaxAttempts, default 5); when a limit is hit the
// loop returns an *ExhaustedError that wraps the last error. Every wait
// honours the context (Wait, Fits). A Budget caps retries to a fraction of
// recent traffic so that retries cannot multiply load on a struggling
// cluster, and a Breaker per node makes calls to a node known to be down
// fail fast with ErrOpen.
//
// A typical loop:
//
//	ctr := limits.Counter()
//	for {
//		err := send(ctx, node, cmd)
//		class := retry.Classify(err)
//		op.Unsent = retry.Unsent(err)
//		act := retry.Decide(class.Kind, op)
//		switch {
//		case act == retry.ActionDone:
//			return nil
//		case act == retry.ActionFailUnknownOutcome:
//			return errUnknownOutcome(err)
//		case !act.IsRetry():
//			return err
//		case !ctr.Step(act):
//			return ctr.Exhausted(err)
//		case act != retry.ActionFollow && act != retry.ActionAsk && !budget.Withdraw():
//			return err
//		}
//		// act-specific work: class.Redirect() for Follow/Ask; for Backoff
//		// and RetryConn d := backoff.Delay(ctr.Attempts-2, nil) (0 for the
//		// first retry), fail with err unless retry.Fits(ctx, d), then
//		// retry.Wait(ctx, d).
//	}
package retry
