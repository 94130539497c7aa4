package slotrouterotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// liveCtx returns a context bounded by d for a test.
func liveCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newLiveClient connects a client instrumented by rec to the shared
// cluster, closed at the end of the test.
func newLiveClient(t *testing.T, rec *recorder, opts router.Options) (*router.Client, *clustertest.Cluster) {
	t.Helper()
	cl := clustertest.Need(t, cluster)
	opts.Seeds = cl.Addrs()
	require.NoError(t, rec.Apply(&opts))
	c, err := router.New(liveCtx(t, 30*time.Second), opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, cl
}

// owner returns the node that owns key's slot.
func owner(ctx context.Context, t *testing.T, cl *clustertest.Cluster, key string) *clustertest.Node {
	t.Helper()
	n, err := cl.OwnerOf(ctx, uint16(slots.Of(key)))
	require.NoError(t, err)
	return n
}

// otherPrimary returns a primary other than n.
func otherPrimary(ctx context.Context, t *testing.T, cl *clustertest.Cluster, n *clustertest.Node) *clustertest.Node {
	t.Helper()
	primaries, err := cl.Primaries(ctx)
	require.NoError(t, err)
	for _, p := range primaries {
		if p != n {
			return p
		}
	}
	require.FailNow(t, "only one primary")
	return nil
}

// lastSpan returns the last ended span called name.
func lastSpan(t *testing.T, rec *recorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := rec.spansNamed(name)
	require.NotEmpty(t, spans, "no %s span", name)
	return spans[len(spans)-1]
}

// TestLiveCommands: SET, GET (a value, then a nil reply), a WRONGTYPE
// error and a DoMulti, against a real cluster: their spans, the node that
// answered, the error attributes, and the duration histogram.
func TestLiveCommands(t *testing.T) {
	rec := newRecorder(t)
	c, cl := newLiveClient(t, rec, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	key, list := t.Name()+":k", t.Name()+":list"
	keyOwner, listOwner := owner(ctx, t, cl, key), owner(ctx, t, cl, list)

	_, err := c.Do(ctx, "SET", key, "v")
	require.NoError(t, err)
	set := lastSpan(t, rec, "SET")
	a := attrs(set.Attributes())
	assert.Equal(t, trace.SpanKindClient, set.SpanKind())
	assert.Equal(t, codes.Unset, set.Status().Code)
	assert.Equal(t, "redis", a["db.system.name"].AsString())
	assert.Equal(t, "SET", a["db.operation.name"].AsString())
	assert.Equal(t, "127.0.0.1", a["server.address"].AsString())
	assert.Equal(t, int64(keyOwner.Port), a["server.port"].AsInt64())
	assert.Equal(t, int64(1), a["slotrouter.attempts"].AsInt64())
	assert.Empty(t, set.Events())

	v, err := c.Do(ctx, "get", key) // the name as given
	require.NoError(t, err)
	s, err := v.ToString()
	require.NoError(t, err)
	assert.Equal(t, "v", s)
	get := lastSpan(t, rec, "get")
	assert.Equal(t, "get", attrs(get.Attributes())["db.operation.name"].AsString())
	assert.Equal(t, codes.Unset, get.Status().Code)

	_, err = c.Do(ctx, "GET", t.Name()+":missing")
	require.True(t, rueidis.IsRedisNil(err), "%v", err)
	miss := lastSpan(t, rec, "GET")
	assert.Equal(t, codes.Unset, miss.Status().Code, "a nil reply is a reply")
	assert.NotContains(t, attrs(miss.Attributes()), attribute.Key("error.type"))

	_, err = c.Do(ctx, "RPUSH", list, "a")
	require.NoError(t, err)
	_, err = c.Do(ctx, "GET", list)
	require.Error(t, err)
	wrong := lastSpan(t, rec, "GET")
	a = attrs(wrong.Attributes())
	assert.Equal(t, codes.Error, wrong.Status().Code)
	assert.Contains(t, wrong.Status().Description, "WRONGTYPE")
	assert.Equal(t, "WRONGTYPE", a["error.type"].AsString())
	assert.Equal(t, "WRONGTYPE", a["db.response.status_code"].AsString())
	assert.Equal(t, int64(listOwner.Port), a["server.port"].AsInt64())

	res := c.DoMulti(ctx, router.C("SET", key, "1"), router.C("SET", list+":2", "2"), router.C("GET", key))
	require.Len(t, res, 3)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	pipe := lastSpan(t, rec, "PIPELINE")
	assert.Equal(t, int64(3), attrs(pipe.Attributes())["db.operation.batch.size"].AsInt64())
	assert.Equal(t, codes.Unset, pipe.Status().Code)

	// db.client.operation.duration: one point per operation, node and
	// error; the WRONGTYPE one carries the error.
	sys := attribute.String("db.system.name", "redis")
	setPoints := rec.durations(t, sys, attribute.String("db.operation.name", "SET"),
		attribute.Int("server.port", keyOwner.Port))
	require.Len(t, setPoints, 1)
	assert.Equal(t, uint64(1), setPoints[0].Count)
	assert.Positive(t, setPoints[0].Sum)
	assert.False(t, setPoints[0].Attributes.HasValue("error.type"))
	wrongPoints := rec.durations(t, sys, attribute.String("db.operation.name", "GET"),
		attribute.String("error.type", "WRONGTYPE"), attribute.String("db.response.status_code", "WRONGTYPE"))
	require.Len(t, wrongPoints, 1)
	assert.Equal(t, uint64(1), wrongPoints[0].Count)
	var gets uint64
	for _, p := range rec.durations(t, attribute.String("db.operation.name", "GET")) {
		gets += p.Count
	}
	assert.Equal(t, uint64(2), gets, "the nil reply and the WRONGTYPE error")

	// The client's first topology refresh was counted.
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.topology.refreshes",
		attribute.String("slotrouter.refresh.cause", "initial"), attribute.String("slotrouter.outcome", "ok")))
}

// TestLiveMoved: a slot moved behind a client's back (no periodic
// refresh) makes its next GET follow a MOVED reply: a "redirect" event
// naming both nodes, the span's node is the new owner, and the redirect is
// counted for the old one.
func TestLiveMoved(t *testing.T) {
	rec := newRecorder(t)
	opts := router.Options{}
	opts.Topology.Period = topology.NoPeriodicRefresh
	c, cl := newLiveClient(t, rec, opts)
	ctx := liveCtx(t, 60*time.Second)
	key := t.Name() + ":k"
	slot := uint16(slots.Of(key))
	from := owner(ctx, t, cl, key)
	_, err := c.Do(ctx, "SET", key, "moved")
	require.NoError(t, err)

	to := otherPrimary(ctx, t, cl, from)
	require.NoError(t, cl.MoveSlot(ctx, slot, to))
	t.Cleanup(func() {
		back, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, cl.MoveSlot(back, slot, from))
	})

	v, err := c.Do(ctx, "GET", key)
	require.NoError(t, err)
	s, err := v.ToString()
	require.NoError(t, err)
	assert.Equal(t, "moved", s)

	get := lastSpan(t, rec, "GET")
	a := attrs(get.Attributes())
	assert.Equal(t, codes.Unset, get.Status().Code)
	assert.Equal(t, int64(to.Port), a["server.port"].AsInt64(), "the node that answered")
	assert.Equal(t, int64(2), a["slotrouter.attempts"].AsInt64())
	require.Len(t, get.Events(), 1)
	ev := get.Events()[0]
	assert.Equal(t, "redirect", ev.Name)
	ea := attrs(ev.Attributes)
	assert.Equal(t, "MOVED", ea["slotrouter.redirect.kind"].AsString())
	assert.Equal(t, to.Addr, ea["slotrouter.redirect.target"].AsString())
	assert.Equal(t, int64(from.Port), ea["server.port"].AsInt64(), "the node that redirected")
	assert.Equal(t, int64(1), ea["slotrouter.attempt"].AsInt64())

	assert.Equal(t, int64(1), rec.count(t, "slotrouter.redirects",
		attribute.String("slotrouter.redirect.kind", "MOVED"), attribute.Int("server.port", from.Port)))
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.redirects"))
	assert.Zero(t, rec.count(t, "slotrouter.retries"))
}

// TestLiveAsk: a GET of a key not on the source of a slot being migrated
// follows an ASK reply to the target: a "redirect" event of kind ASK, and
// the ASK counted for the source.
func TestLiveAsk(t *testing.T) {
	rec := newRecorder(t)
	c, cl := newLiveClient(t, rec, router.Options{})
	ctx := liveCtx(t, 60*time.Second)
	key := t.Name() + ":missing"
	slot := uint16(slots.Of(key))
	from := owner(ctx, t, cl, key)
	to := otherPrimary(ctx, t, cl, from)
	require.NoError(t, cl.BeginMigration(ctx, slot, to))
	t.Cleanup(func() {
		back, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, cl.FinishMigration(back, slot))
		assert.NoError(t, cl.MoveSlot(back, slot, from))
	})

	_, err := c.Do(ctx, "GET", key)
	require.True(t, rueidis.IsRedisNil(err), "%v", err)
	get := lastSpan(t, rec, "GET")
	assert.Equal(t, codes.Unset, get.Status().Code)
	assert.Equal(t, int64(to.Port), attrs(get.Attributes())["server.port"].AsInt64())
	require.Len(t, get.Events(), 1)
	ea := attrs(get.Events()[0].Attributes)
	assert.Equal(t, "ASK", ea["slotrouter.redirect.kind"].AsString())
	assert.Equal(t, to.Addr, ea["slotrouter.redirect.target"].AsString())
	assert.Equal(t, int64(from.Port), ea["server.port"].AsInt64())
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.redirects",
		attribute.String("slotrouter.redirect.kind", "ASK"), attribute.Int("server.port", from.Port)))
}
