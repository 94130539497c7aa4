package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/slotrouter/slotrouter/retry"
)

func ExampleParseRedirect() {
	r, err := retry.ParseRedirect("MOVED 3999 ::1:6381")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Kind, r.Slot, r.Addr)

	_, err = retry.ParseRedirect("MOVED 99999 127.0.0.1:6381")
	fmt.Println(errors.Is(err, retry.ErrMalformedRedirect))
	fmt.Println(err)
	// Output:
	// MOVED 3999 [::1]:6381
	// true
	// retry: malformed redirect: slot 99999 out of range 0-16383 (in "MOVED 99999 127.0.0.1:6381")
}

func ExampleRedirect_Resolve() {
	r, _ := retry.ParseRedirect("ASK 12 :7002")
	fmt.Println(r.SameEndpoint(), r.Resolve("10.0.0.5:7000"))
	// Output: true 10.0.0.5:7002
}

func ExampleClassify() {
	server := errors.New("TRYAGAIN Multiple keys request during rehashing of slot")
	for _, err := range []error{
		nil,
		fmt.Errorf("MGET a b: %w", server),
		fmt.Errorf("reading reply: %w", io.EOF),
		context.DeadlineExceeded,
		errors.New("WRONGTYPE Operation against a key holding the wrong kind of value"),
	} {
		c := retry.Classify(err)
		fmt.Println(c.Kind, c.Kind.NeedsBackoff())
	}
	// Output:
	// None false
	// TRYAGAIN true
	// Conn true
	// Canceled false
	// Other false
}

func ExampleDecide() {
	eof := retry.Classify(io.EOF).Kind
	fmt.Println(retry.Decide(eof, retry.Op{}))               // a write, maybe sent
	fmt.Println(retry.Decide(eof, retry.Op{ReadOnly: true})) // a read
	fmt.Println(retry.Decide(eof, retry.Op{Unsent: true}))   // never written
	fmt.Println(retry.Decide(retry.KindMoved, retry.Op{}))
	// Output:
	// FailUnknownOutcome
	// RetryConn
	// RetryConn
	// Follow
}

func ExampleBackoff_Delay() {
	b := retry.Backoff{Base: 10 * time.Millisecond, Cap: 100 * time.Millisecond}
	rng := rand.New(rand.NewPCG(1, 2)) // seeded: deterministic
	for attempt := range 5 {
		d := b.Delay(attempt, rng.Uint64)
		fmt.Println(attempt, b.Ceiling(attempt), d <= b.Ceiling(attempt))
	}
	// Output:
	// 0 10ms true
	// 1 20ms true
	// 2 40ms true
	// 3 80ms true
	// 4 100ms true
}

func ExampleWait() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	d := time.Second
	if !retry.Fits(ctx, d) {
		fmt.Println("would pass the deadline: fail now with the last error")
	}
	fmt.Println(retry.Wait(ctx, d))
	// Output:
	// would pass the deadline: fail now with the last error
	// context deadline exceeded
}

func ExampleLimits_Counter() {
	ctr := retry.Limits{MaxAttempts: 3}.Counter()
	last := errors.New("CLUSTERDOWN The cluster is down")
	for ctr.Step(retry.Decide(retry.Classify(last).Kind, retry.Op{})) {
		// back off and try again; the cluster stays down
	}
	err := ctr.Exhausted(last)
	fmt.Println(err)
	fmt.Println(errors.Is(err, last))
	// Output:
	// retry: gave up after 3 attempts and 0 redirects: CLUSTERDOWN The cluster is down
	// true
}

func ExampleBreaker() {
	now := time.Unix(0, 0)
	b := retry.NewBreaker(retry.BreakerOptions{Failures: 2, Cooldown: time.Second, Now: func() time.Time { return now }})
	b.Failure()
	b.Failure()
	fmt.Println(b.State(), errors.Is(b.Allow(), retry.ErrOpen))
	now = now.Add(time.Second)
	fmt.Println(b.Allow(), b.State()) // one probe
	b.Success()
	fmt.Println(b.State())
	// Output:
	// Open true
	// <nil> HalfOpen
	// Closed
}

func ExampleBudget() {
	b := retry.NewBudget(retry.BudgetOptions{Ratio: 0.1, MinPerSecond: -1})
	for range 20 {
		b.Deposit() // one per request
	}
	fmt.Println(b.Withdraw(), b.Withdraw(), b.Withdraw()) // 10% of 20 requests
	// Output: true true false
}
