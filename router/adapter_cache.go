package router

import (
	"context"
	"time"

	"github.com/redis/rueidis"
)

// DoCache sends cmd as Do does; with Options.ClientSideCaching its reply
// is cached (see rueidis.Client.DoCache).
func (a *rueidisClient) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	return a.Do(ctx, rueidis.Completed(cmd))
}

// DoMultiCache is DoCache for many commands.
func (a *rueidisClient) DoMultiCache(ctx context.Context, multi ...rueidis.CacheableTTL) []rueidis.RedisResult {
	cmds := make([]rueidis.Completed, len(multi))
	for i := range multi {
		cmds[i] = rueidis.Completed(multi[i].Cmd)
	}
	return a.DoMulti(ctx, cmds...)
}
