package router

import (
	"sync"

	"github.com/redis/rueidis"
)

// multiScratch is the working memory of one DoMulti call: its units and
// the per-round lists of them. It is pooled (a pipeline of 100 commands
// needs ~40 KB of units, which a fresh allocation would clear and the
// GC collect on every call).
type multiScratch struct {
	units  []unit
	ready  []*unit
	part   []*unit
	groups []roundGroup
	jobs   []pipeJob
	wg     sync.WaitGroup // the round's jobs

	// the lean first round (multi_lean.go)
	lean    []leanCmd
	lgroups []leanGroup
	lidx    []int32
}

// maxScratchUnits bounds what the pool keeps: a call with more commands
// than this allocates its own and gives nothing back.
const maxScratchUnits = 4096

// faceScratch is the working memory of the rueidis face's DoMulti: the
// commands as Cmds, their args in one flat copy, and the results before
// they become rueidis results.
type faceScratch struct {
	cmds    []Cmd
	flat    []string
	results []Result
}

// facePool keeps faceScratches.
type facePool struct{ p sync.Pool }

// get returns a faceScratch with room for n commands (cmds and results
// capacity at least n; flat empty).
func (p *facePool) get(n int) *faceScratch {
	sc, ok := p.p.Get().(*faceScratch)
	if !ok {
		sc = &faceScratch{}
	}
	if cap(sc.cmds) < n {
		sc.cmds = make([]Cmd, n)
		sc.results = make([]Result, n)
	}
	return sc
}

// put clears sc (it held the caller's args and replies) and keeps it.
func (p *facePool) put(sc *faceScratch) {
	if cap(sc.cmds) > maxScratchUnits || cap(sc.flat) > 16*maxScratchUnits {
		return
	}
	clear(sc.cmds[:cap(sc.cmds)])
	clear(sc.results[:cap(sc.results)])
	clear(sc.flat[:cap(sc.flat)])
	sc.flat = sc.flat[:0]
	p.p.Put(sc)
}

// scratchPool keeps multiScratches and the pipelines' command batches.
type scratchPool struct {
	multi   sync.Pool // *multiScratch
	batches sync.Pool // *[]rueidis.Completed
}

func (p *scratchPool) get() *multiScratch {
	if sc, ok := p.multi.Get().(*multiScratch); ok {
		return sc
	}
	return &multiScratch{}
}

// put clears sc (it held replies and the caller's commands) and keeps it.
func (p *scratchPool) put(sc *multiScratch) {
	if cap(sc.units) > maxScratchUnits || cap(sc.lean) > maxScratchUnits {
		return
	}
	// Only sc.units's length was used: every use appends to sc.units[:0]
	// and stores the slice back, so the rest is still zero (and clearing
	// the whole capacity would cost a pipeline of 100 commands 39 KB of
	// writes).
	clear(sc.units)
	clear(sc.ready[:cap(sc.ready)])
	clear(sc.part[:cap(sc.part)])
	clear(sc.jobs[:cap(sc.jobs)])
	clear(sc.lgroups[:cap(sc.lgroups)])
	sc.units, sc.ready, sc.part, sc.jobs = sc.units[:0], sc.ready[:0], sc.part[:0], sc.jobs[:0]
	sc.lgroups = sc.lgroups[:0]
	p.multi.Put(sc)
}

// batch returns an empty command batch with room for n commands.
func (p *scratchPool) batch(n int) *[]rueidis.Completed {
	if b, ok := p.batches.Get().(*[]rueidis.Completed); ok && cap(*b) >= n {
		return b
	}
	b := make([]rueidis.Completed, 0, n)
	return &b
}

// putBatch keeps b. Only a batch that rueidis is done with may come back:
// its pipeline answered every command (a command rueidis still holds,
// after a caller's cancellation or a broken connection, could be written
// after this returns).
func (p *scratchPool) putBatch(b *[]rueidis.Completed) {
	if cap(*b) > maxScratchUnits {
		return
	}
	clear((*b)[:cap(*b)])
	*b = (*b)[:0]
	p.batches.Put(b)
}
