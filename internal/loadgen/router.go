package loadgen

import (
	"context"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/router"
)

// RouterClient adapts a *router.Client to Client, CmdClient (SETs are
// sent marked idempotent) and Pipeliner (DoMulti). Build it with
// FromRouter.
type RouterClient struct {
	c *router.Client
}

// FromRouter returns c as a load's client. It panics on a nil c, a
// programming error.
func FromRouter(c *router.Client) RouterClient {
	if c == nil {
		panic("loadgen: FromRouter(nil)")
	}
	return RouterClient{c: c}
}

// Do sends one command with router.Client.Do.
func (r RouterClient) Do(ctx context.Context, args ...string) (rueidis.RedisMessage, error) {
	return r.c.Do(ctx, args...)
}

// DoCmd sends one command with its idempotence mark.
func (r RouterClient) DoCmd(ctx context.Context, cmd Cmd) (rueidis.RedisMessage, error) {
	return r.c.DoCmd(ctx, router.Cmd{Args: cmd.Args, Idempotent: cmd.Idempotent})
}

// DoMulti sends cmds with router.Client.DoMulti.
func (r RouterClient) DoMulti(ctx context.Context, cmds []Cmd, replies []Reply) {
	rc := make([]router.Cmd, len(cmds))
	for i, c := range cmds {
		rc[i] = router.Cmd{Args: c.Args, Idempotent: c.Idempotent}
	}
	for i, res := range r.c.DoMulti(ctx, rc...) {
		if i < len(replies) {
			replies[i] = Reply{Msg: res.Msg, Err: res.Err}
		}
	}
}
