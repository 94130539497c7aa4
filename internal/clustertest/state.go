package clustertest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slotrouter/slotrouter/slots"
)

// queryTimeout bounds one command sent while polling the cluster's state.
const queryTimeout = 2 * time.Second

// nodeLine is one line of CLUSTER NODES.
type nodeLine struct {
	id        string
	flags     []string
	myself    bool
	master    bool
	replica   bool
	fail      bool // fail or fail?
	handshake bool
	noaddr    bool
	masterID  string // "" for primaries
	slots     [][2]int
	migrating map[int]string // slot -> target ID (myself only)
}

// parseClusterNodes parses a CLUSTER NODES reply.
func parseClusterNodes(s string) ([]nodeLine, error) {
	var out []nodeLine
	for raw := range strings.SplitSeq(s, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("clustertest: short CLUSTER NODES line %q", line)
		}
		nl := nodeLine{id: f[0]}
		nl.flags = strings.Split(f[2], ",")
		for _, fl := range nl.flags {
			switch fl {
			case "myself":
				nl.myself = true
			case "master":
				nl.master = true
			case "slave":
				nl.replica = true
			case "fail", "fail?":
				nl.fail = true
			case "handshake":
				nl.handshake = true
			case "noaddr":
				nl.noaddr = true
			}
		}
		if f[3] != "-" {
			nl.masterID = f[3]
		}
		for _, sl := range f[8:] {
			if strings.HasPrefix(sl, "[") {
				// [slot->-target] (migrating); [slot-<-source]
				// (importing) is not needed.
				inner := strings.Trim(sl, "[]")
				if i := strings.Index(inner, "->-"); i >= 0 {
					if slot, err := strconv.Atoi(inner[:i]); err == nil {
						if nl.migrating == nil {
							nl.migrating = map[int]string{}
						}
						nl.migrating[slot] = inner[i+3:]
					}
				}
				continue
			}
			r, err := slots.ParseRange(sl)
			if err != nil {
				return nil, fmt.Errorf("clustertest: CLUSTER NODES: %w", err)
			}
			nl.slots = append(nl.slots, [2]int{int(r.Start), int(r.End)})
		}
		out = append(out, nl)
	}
	return out, nil
}

func (nl nodeLine) firstSlot() int {
	first := NumSlots
	for _, r := range nl.slots {
		first = min(first, r[0])
	}
	return first
}

func (nl nodeLine) slotList() []uint16 {
	var s []uint16
	for _, r := range nl.slots {
		for i := r[0]; i <= r[1]; i++ {
			s = append(s, uint16(i))
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

// view returns n's CLUSTER NODES, parsed.
func (c *Cluster) view(ctx context.Context, n *Node) ([]nodeLine, error) {
	qctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	s, err := c.doString(qctx, n, "CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	v, err := parseClusterNodes(s)
	if err != nil {
		return nil, err
	}
	for _, l := range v {
		if l.myself {
			n.noteRole(l)
		}
	}
	return v, nil
}

// noteRole records n's role as n reports it, and when n was first seen a
// primary after being seen a replica: when it won an election (see
// waitElections).
func (n *Node) noteRole(self nodeLine) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if self.master && n.wasReplica {
		n.promotedAt = time.Now()
	}
	n.wasReplica = self.replica
}

// electionTimeout is Redis's auth_timeout for a cluster-node-timeout:
// twice the node timeout, at least 2 s (cluster.c,
// clusterHandleSlaveFailover).
func electionTimeout(nodeTimeout time.Duration) time.Duration {
	return max(2*nodeTimeout, 2*time.Second)
}

// waitElections waits until none of nodes won an election less than
// electionTimeout ago.
//
// Redis 7.0 keeps a replica's election (its start time, its epoch and the
// votes it got) after the replica won it. Should the node be a replica
// again within electionTimeout of the election's start (failed back), and
// its new primary fail or a manual failover be asked of it within that
// time, it takes the old votes as a quorum and promotes itself at once
// with the old epoch, which is lower than its primary's: the other nodes
// refuse its claim (they answer with UPDATE messages it ignores), keep the
// slots with the failed primary, and the cluster stays in
// cluster_state:fail for good. So the helpers that fail a primary (Kill,
// Pause: its replicas) or ask for a failover (Failover: that replica)
// first let those nodes' recent elections expire. The time is counted
// from when a helper first saw the node as a primary, which is after the
// election started.
func (c *Cluster) waitElections(ctx context.Context, nodes ...*Node) error {
	timeout := electionTimeout(c.opts.NodeTimeout)
	var until time.Time
	var who *Node
	for _, n := range nodes {
		n.mu.Lock()
		at := n.promotedAt
		n.mu.Unlock()
		if !at.IsZero() && at.Add(timeout).After(until) {
			until, who = at.Add(timeout), n
		}
	}
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	c.logf("waiting %v: %s won an election less than %v ago", d.Round(time.Millisecond), who, timeout)
	if err := sleepCtx(ctx, d); err != nil {
		return fmt.Errorf("clustertest: waiting for the election of %s to expire: %w", who, err)
	}
	return nil
}

// self returns n's own line of its CLUSTER NODES.
func (c *Cluster) self(ctx context.Context, n *Node) (nodeLine, error) {
	v, err := c.view(ctx, n)
	if err != nil {
		return nodeLine{}, err
	}
	for _, l := range v {
		if l.myself {
			return l, nil
		}
	}
	return nodeLine{}, fmt.Errorf("clustertest: no myself line in CLUSTER NODES of %s", n)
}

// infoField returns field of an INFO section reply.
func (c *Cluster) infoField(ctx context.Context, n *Node, cmd []string, field string) (string, error) {
	qctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	s, err := c.doString(qctx, n, cmd...)
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == field {
			return v, nil
		}
	}
	return "", fmt.Errorf("clustertest: no %s in %s of %s", field, strings.Join(cmd, " "), n)
}

// checkHealthy returns nil when the cluster is healthy, else what is wrong.
func (c *Cluster) checkHealthy(ctx context.Context) error {
	live := c.liveNodes()
	if len(live) == 0 {
		return errors.New("no running node")
	}
	liveByID := map[string]*Node{}
	for _, n := range live {
		liveByID[n.ID] = n
	}
	c.mu.Lock()
	removed := map[string]bool{}
	for _, n := range c.removed {
		removed[n.ID] = true
	}
	c.mu.Unlock()

	views := map[string]map[string]nodeLine{}
	selfs := map[string]nodeLine{}
	var ref []string
	var refNode *Node
	for _, n := range live {
		state, err := c.infoField(ctx, n, []string{"CLUSTER", "INFO"}, "cluster_state")
		if err != nil {
			return err
		}
		if state != "ok" {
			return fmt.Errorf("%s: cluster_state:%s%s", n, state, c.unassignedInOwnView(ctx, n))
		}
		v, err := c.view(ctx, n)
		if err != nil {
			return err
		}
		byID := map[string]nodeLine{}
		owners := make([]string, NumSlots)
		for _, l := range v {
			byID[l.id] = l
			if l.myself {
				selfs[n.ID] = l
			}
			if l.handshake {
				return fmt.Errorf("%s: handshake with %s in progress", n, l.id)
			}
			if removed[l.id] {
				return fmt.Errorf("%s still knows removed node %.8s", n, l.id)
			}
			if l.master {
				for _, r := range l.slots {
					for s := r[0]; s <= r[1]; s++ {
						owners[s] = l.id
					}
				}
			}
		}
		if _, ok := selfs[n.ID]; !ok {
			return fmt.Errorf("%s: no myself line", n)
		}
		if selfs[n.ID].id != n.ID {
			return fmt.Errorf("%s reports ID %s", n, selfs[n.ID].id)
		}
		views[n.ID] = byID
		if ref == nil {
			ref, refNode = owners, n
			for s, id := range owners {
				if id == "" {
					return fmt.Errorf("%s: slot %d unassigned", n, s)
				}
				if _, ok := liveByID[id]; !ok {
					return fmt.Errorf("%s: slot %d owned by %.8s, which is not running", n, s, id)
				}
			}
			continue
		}
		for s := range owners {
			if owners[s] != ref[s] {
				return fmt.Errorf("%s and %s disagree on the owner of slot %d (%.8s vs %.8s)", refNode, n, s, ref[s], owners[s])
			}
		}
	}
	// Every node sees every live node, not failing, in the role it claims.
	for viewer, byID := range views {
		for id, self := range selfs {
			l, ok := byID[id]
			if !ok {
				return fmt.Errorf("%s does not know %s", liveByID[viewer], liveByID[id])
			}
			if l.fail || l.noaddr {
				return fmt.Errorf("%s sees %s as %s", liveByID[viewer], liveByID[id], strings.Join(l.flags, ","))
			}
			if l.master != self.master || l.masterID != self.masterID {
				return fmt.Errorf("%s sees %s with role %s/%.8s, it says %s/%.8s", liveByID[viewer], liveByID[id],
					role(l), l.masterID, role(self), self.masterID)
			}
		}
	}
	for _, owner := range ref {
		if !selfs[owner].master {
			return fmt.Errorf("slot owner %s does not say it is a primary", liveByID[owner])
		}
	}
	for _, n := range live {
		self := selfs[n.ID]
		if !self.replica {
			continue
		}
		if _, ok := liveByID[self.masterID]; !ok {
			return fmt.Errorf("replica %s follows %.8s, which is not running", n, self.masterID)
		}
		link, err := c.infoField(ctx, n, []string{"INFO", "replication"}, "master_link_status")
		if err != nil {
			return err
		}
		if link != "up" {
			return fmt.Errorf("replica %s: master_link_status:%s", n, link)
		}
	}
	return nil
}

// unassignedInOwnView describes the slots no node owns in n's own CLUSTER
// NODES, or returns "" if there are none (or n cannot be asked). A node
// in cluster_state:fail whose view lacks slots every other node gives to
// a running primary is stuck: Redis never reassigns them by itself (see
// TestReshapes for the Redis 7.0 sequence that leaves a promoted replica
// so); CLUSTER ADDSLOTS on the owner repairs it.
func (c *Cluster) unassignedInOwnView(ctx context.Context, n *Node) string {
	v, err := c.view(ctx, n)
	if err != nil {
		return ""
	}
	set := slots.FullSet()
	for _, l := range v {
		if !l.master {
			continue
		}
		for _, r := range l.slots {
			set.RemoveRange(slots.Range{Start: slots.Slot(r[0]), End: slots.Slot(r[1])})
		}
	}
	if set.Empty() {
		return ""
	}
	return ", slots unassigned in its own view: " + slots.FormatRanges(set.Ranges(), " ")
}

func role(l nodeLine) string {
	if l.master {
		return "primary"
	}
	if l.replica {
		return "replica"
	}
	return "none"
}

// WaitHealthy waits until every running node (not killed or paused) says
// cluster_state:ok, all of them agree on the owner of every slot and that
// owner is running, every running node sees every other one without a
// failure flag and in the role the node itself reports, removed nodes are
// forgotten, and every running replica has master_link_status:up. Without
// a deadline in ctx it waits at most Options.WaitTimeout. The error wraps
// ErrNotHealthy and says what was still wrong.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	begin := time.Now()
	for {
		if err := c.checkAlive(); err != nil {
			return err
		}
		last := c.checkHealthy(ctx)
		if last == nil {
			c.logf("healthy after %v", time.Since(begin).Round(time.Millisecond))
			return nil
		}
		if errors.Is(last, ErrStopped) {
			return last
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("%w after %v: %v (%v)%s", ErrNotHealthy, time.Since(begin).Round(time.Millisecond), last, err, c.diagnose(ctx))
		}
	}
}

// selves asks every running node for its own line.
func (c *Cluster) selves(ctx context.Context) (map[*Node]nodeLine, error) {
	out := map[*Node]nodeLine{}
	for _, n := range c.liveNodes() {
		l, err := c.self(ctx, n)
		if err != nil {
			return nil, err
		}
		out[n] = l
	}
	return out, nil
}

// Primaries returns the running nodes that say they are primaries, sorted
// by their first slot (primaries without slots last, by port).
func (c *Cluster) Primaries(ctx context.Context) ([]*Node, error) {
	selfs, err := c.selves(ctx)
	if err != nil {
		return nil, err
	}
	var ps []*Node
	for n, l := range selfs {
		if l.master {
			ps = append(ps, n)
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		a, b := selfs[ps[i]].firstSlot(), selfs[ps[j]].firstSlot()
		if a != b {
			return a < b
		}
		return ps[i].Port < ps[j].Port
	})
	return ps, nil
}

// Replicas returns the running nodes that say they are replicas, by port.
func (c *Cluster) Replicas(ctx context.Context) ([]*Node, error) {
	selfs, err := c.selves(ctx)
	if err != nil {
		return nil, err
	}
	var rs []*Node
	for n, l := range selfs {
		if l.replica {
			rs = append(rs, n)
		}
	}
	sortNodesByPort(rs)
	return rs, nil
}

// ReplicasOf returns the running nodes that say they replicate primary, by
// port.
func (c *Cluster) ReplicasOf(ctx context.Context, primary *Node) ([]*Node, error) {
	if primary == nil {
		return nil, fmt.Errorf("%w: nil node", ErrNotManaged)
	}
	selfs, err := c.selves(ctx)
	if err != nil {
		return nil, err
	}
	var rs []*Node
	for n, l := range selfs {
		if l.replica && l.masterID == primary.ID {
			rs = append(rs, n)
		}
	}
	sortNodesByPort(rs)
	return rs, nil
}

// SlotsOf returns the slots n owns according to n itself, ascending.
func (c *Cluster) SlotsOf(ctx context.Context, n *Node) ([]uint16, error) {
	l, err := c.self(ctx, n)
	if err != nil {
		return nil, err
	}
	return l.slotList(), nil
}

// OwnerOf returns the node that owns slot according to the first running
// node that answers (during a migration, the source).
func (c *Cluster) OwnerOf(ctx context.Context, slot uint16) (*Node, error) {
	id, err := c.ownerID(ctx, slot)
	if err != nil {
		return nil, err
	}
	n := c.NodeByID(id)
	if n == nil {
		return nil, fmt.Errorf("%w: slot %d owned by unknown node %s", ErrNotManaged, slot, id)
	}
	return n, nil
}

func (c *Cluster) ownerID(ctx context.Context, slot uint16) (string, error) {
	if int(slot) >= NumSlots {
		return "", fmt.Errorf("clustertest: slot %d out of range", slot)
	}
	var errs []error
	for _, n := range c.liveNodes() {
		v, err := c.view(ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, l := range v {
			if !l.master {
				continue
			}
			for _, r := range l.slots {
				if int(slot) >= r[0] && int(slot) <= r[1] {
					return l.id, nil
				}
			}
		}
		return "", fmt.Errorf("clustertest: slot %d unassigned according to %s", slot, n)
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("%w: no running node", ErrNodeDown)
	}
	return "", errors.Join(errs...)
}

// checkAlive returns an error wrapping ErrNodeDied when a node that should
// be running (or paused) has exited on its own.
func (c *Cluster) checkAlive() error {
	for _, n := range c.Nodes() {
		n.mu.Lock()
		p, st := n.proc, n.state
		n.mu.Unlock()
		if p == nil || (st != stateRunning && st != statePaused) || !p.exited() {
			continue
		}
		return fmt.Errorf("%w: %s (pid %d): %v\n--- log tail of %s ---\n%s", ErrNodeDied, n, p.pid, p.err, n, n.LogTail(15))
	}
	return nil
}
