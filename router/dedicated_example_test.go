package router_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/router"
)

// ExampleClient_Rueidis_watch runs an optimistic transaction (WATCH,
// read, MULTI ... EXEC) on a dedicated connection, retried when another
// client wrote the key in between (EXEC replies nil) or the slot moved
// (the MOVED reply comes back as it is; the topology is refreshed for the
// next attempt).
func ExampleClient_Rueidis_watch() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := router.New(ctx, router.Options{Seeds: []string{"127.0.0.1:7000"}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	rc := c.Rueidis()

	const key = "{account:7}:balance"
	errConflict := errors.New("conflict")
	for attempt := 0; attempt < 10; attempt++ {
		err = rc.Dedicated(func(dc rueidis.DedicatedClient) error {
			// The first keyed command pins the connection to the slot's
			// primary; a key of another slot is refused from now on.
			if err := dc.Do(ctx, dc.B().Watch().Key(key).Build()).Error(); err != nil {
				return err
			}
			n, err := dc.Do(ctx, dc.B().Get().Key(key).Build()).AsInt64()
			if err != nil && !rueidis.IsRedisNil(err) {
				return err
			}
			rs := dc.DoMulti(ctx,
				dc.B().Multi().Build(),
				dc.B().Set().Key(key).Value(strconv.FormatInt(n+10, 10)).Build(),
				dc.B().Exec().Build())
			for _, r := range rs {
				if err := r.Error(); rueidis.IsRedisNil(err) {
					return errConflict // EXEC: another client wrote the key
				} else if err != nil {
					return err // e.g. MOVED: the slot moved since WATCH
				}
			}
			return nil
		})
		if !errors.Is(err, errConflict) && !movedReply(err) {
			break
		}
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("credited")
}

// movedReply reports whether err is a MOVED reply.
func movedReply(err error) bool {
	var re *rueidis.RedisError
	if !errors.As(err, &re) {
		return false
	}
	_, moved := re.IsMoved()
	return moved
}
