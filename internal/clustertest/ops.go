package clustertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// migrateBatch is the number of keys moved per MIGRATE while resharding.
const migrateBatch = 100

// managed returns an error unless n is one of c's nodes.
func (c *Cluster) managed(n *Node) error {
	if n == nil {
		return fmt.Errorf("%w: nil node", ErrNotManaged)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrStopped
	}
	if slices.Contains(c.nodes, n) {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNotManaged, n)
}

// rememberSlots records the slots n owns, for WaitFailover, and returns
// its replicas as n sees them. Best effort.
func (c *Cluster) rememberSlots(n *Node) []*Node {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := c.view(ctx, n)
	if err != nil {
		return nil
	}
	var replicas []*Node
	for _, l := range v {
		if l.myself {
			n.mu.Lock()
			n.lastSlots = nil
			if l.master {
				n.lastSlots = l.slotList()
			}
			n.mu.Unlock()
		} else if l.replica && l.masterID == n.ID {
			if r := c.NodeByID(l.id); r != nil {
				replicas = append(replicas, r)
			}
		}
	}
	return replicas
}

// Kill kills n's process with SIGKILL (by pid), reaps it and closes its
// connection. It does not wait for the cluster to notice; see WaitFailover
// and WaitHealthy. Before it kills a primary, it lets the recent
// elections of its replicas expire (at most 2*NodeTimeout: see the package
// doc).
func (c *Cluster) Kill(n *Node) error {
	if err := c.managed(n); err != nil {
		return err
	}
	switch st := n.getState(); st {
	case stateRunning:
		// One of n's replicas may have won an election moments ago and
		// been failed back (see waitElections).
		if err := c.waitElections(context.Background(), c.rememberSlots(n)...); err != nil {
			return err
		}
	case statePaused:
	default:
		return fmt.Errorf("%w: %s is %v", ErrNodeDown, n, st)
	}
	c.closeClient(n)
	n.mu.Lock()
	p := n.proc
	n.state = stateKilled
	n.mu.Unlock()
	if err := p.kill(); err != nil {
		return fmt.Errorf("clustertest: kill %s: %w", n, err)
	}
	c.logf("killed %s (pid %d)", n, p.pid)
	return nil
}

// Restart starts a killed node again with the same configuration, port and
// nodes.conf, and waits until it has rejoined and the cluster is healthy.
// A primary that lost its slots to a failover while it was down comes back
// as a replica.
func (c *Cluster) Restart(ctx context.Context, n *Node) error {
	if err := c.managed(n); err != nil {
		return err
	}
	if st := n.getState(); st != stateKilled {
		return fmt.Errorf("clustertest: restart %s: node is %v, not killed", n, st)
	}
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	c.closeClient(n)
	if err := c.launch(ctx, n); err != nil {
		if errors.Is(err, errPortBusy) {
			return fmt.Errorf("clustertest: restart %s: port %d or %d taken meanwhile: %w", n, n.Port, n.Port+busOffset, err)
		}
		return err
	}
	c.logf("restarted %s (pid %d)", n, n.PID())
	if err := c.WaitHealthy(ctx); err != nil {
		return fmt.Errorf("clustertest: after restart of %s: %w", n, err) // the error shows every node's log tail
	}
	return nil
}

// Pause stops n with SIGSTOP. A paused node is left out of WaitHealthy's
// checks; once it is paused longer than NodeTimeout the others flag it as
// failing (and a paused primary with replicas gets failed over). Before it
// pauses a primary, it lets the recent elections of its replicas expire
// (as Kill does).
func (c *Cluster) Pause(n *Node) error {
	if err := c.managed(n); err != nil {
		return err
	}
	if st := n.getState(); st != stateRunning {
		return fmt.Errorf("%w: %s is %v", ErrNodeDown, n, st)
	}
	if err := c.waitElections(context.Background(), c.rememberSlots(n)...); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.proc.signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("clustertest: pause %s: %w", n, err)
	}
	n.state = statePaused
	c.logf("paused %s", n)
	return nil
}

// Resume continues a paused node with SIGCONT. It does not wait; call
// WaitHealthy to wait until the cluster has recovered.
func (c *Cluster) Resume(n *Node) error {
	if err := c.managed(n); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != statePaused {
		return fmt.Errorf("clustertest: resume %s: node is %v, not paused", n, n.state)
	}
	if err := n.proc.signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("clustertest: resume %s: %w", n, err)
	}
	n.state = stateRunning
	c.logf("resumed %s", n)
	return nil
}

// Failover sends CLUSTER FAILOVER to replica (FORCE when its primary is
// killed or paused), once an election replica won recently has expired (at
// most 2*NodeTimeout, see Kill), and waits until it is a primary, its old
// primary (if running) reports itself a replica of it, and the cluster is
// healthy with every node agreeing.
func (c *Cluster) Failover(ctx context.Context, replica *Node) error {
	if err := c.managed(replica); err != nil {
		return err
	}
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	self, err := c.self(ctx, replica)
	if err != nil {
		return err
	}
	if !self.replica {
		return fmt.Errorf("clustertest: failover: %s is not a replica", replica)
	}
	old := c.NodeByID(self.masterID)
	// A manual failover asked of a node whose own election is recent
	// reuses that election's votes (see waitElections).
	if err := c.waitElections(ctx, replica); err != nil {
		return err
	}
	begin := time.Now()
	var sent time.Time
	for {
		if time.Since(sent) > 10*time.Second {
			// A manual failover times out after a while; ask again.
			args := []string{"CLUSTER", "FAILOVER"}
			if old == nil || old.getState() != stateRunning {
				// No primary to agree with: skip the handshake.
				args = append(args, "FORCE")
			}
			if _, err := c.Do(ctx, replica, args...); err != nil {
				return fmt.Errorf("clustertest: %s on %s: %w", strings.Join(args, " "), replica, err)
			}
			sent = time.Now()
		}
		done, why := c.failoverDone(ctx, replica, old)
		if done {
			break
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("clustertest: failover to %s not done after %v: %s: %w%s",
				replica, time.Since(begin).Round(time.Millisecond), why, err, c.diagnose(ctx))
		}
	}
	c.logf("failover to %s done in %v", replica, time.Since(begin).Round(time.Millisecond))
	return c.WaitHealthy(ctx)
}

func (c *Cluster) failoverDone(ctx context.Context, replica, old *Node) (bool, string) {
	l, err := c.self(ctx, replica)
	if err != nil {
		return false, err.Error()
	}
	if !l.master {
		return false, replica.String() + " is not a primary yet"
	}
	if old == nil || old.getState() != stateRunning {
		return true, ""
	}
	ol, err := c.self(ctx, old)
	if err != nil {
		return false, err.Error()
	}
	if !ol.replica || ol.masterID != replica.ID {
		return false, old.String() + " is not a replica of " + replica.String() + " yet"
	}
	return true, ""
}

// WaitFailover waits, after Kill (or Pause) of a primary, until one of its
// replicas has taken over its slots and the remaining cluster is healthy,
// and returns the new primary.
func (c *Cluster) WaitFailover(ctx context.Context, deadPrimary *Node) (*Node, error) {
	if err := c.managed(deadPrimary); err != nil {
		return nil, err
	}
	if st := deadPrimary.getState(); st == stateRunning {
		return nil, fmt.Errorf("clustertest: WaitFailover: %s is still running", deadPrimary)
	}
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	deadPrimary.mu.Lock()
	slots := deadPrimary.lastSlots
	deadPrimary.mu.Unlock()
	if len(slots) == 0 {
		return nil, fmt.Errorf("clustertest: WaitFailover: %s owned no slots when it went down", deadPrimary)
	}
	if owner, err := c.OwnerOf(ctx, slots[0]); err == nil && owner == deadPrimary {
		// Not failed over yet: is there anybody to promote?
		rs, err := c.ReplicasOf(ctx, deadPrimary)
		if err != nil {
			return nil, err
		}
		if len(rs) == 0 {
			return nil, fmt.Errorf("clustertest: WaitFailover: %s has no running replica to promote", deadPrimary)
		}
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return nil, fmt.Errorf("clustertest: no failover of %s: %w", deadPrimary, err)
	}
	n, err := c.OwnerOf(ctx, slots[0])
	if err != nil {
		return nil, err
	}
	if n == deadPrimary {
		return nil, fmt.Errorf("clustertest: WaitFailover: %s still owns slot %d", deadPrimary, slots[0])
	}
	c.logf("%s took over from %s", n, deadPrimary)
	return n, nil
}

// primariesForSetSlot returns the running primaries ordered target, the
// others, then the source: the order in which SETSLOT NODE is sent (the
// one package migrate uses: no primary still names the source as the
// owner when it stops claiming the slot, see migrate's package doc).
func (c *Cluster) primariesForSetSlot(ctx context.Context, from, to *Node) ([]*Node, error) {
	ps, err := c.Primaries(ctx)
	if err != nil {
		return nil, err
	}
	out := []*Node{to}
	for _, p := range ps {
		if p != to && p != from {
			out = append(out, p)
		}
	}
	return append(out, from), nil
}

// migrateKeys moves keys from owner to target with MIGRATE ... KEYS.
func (c *Cluster) migrateKeys(ctx context.Context, owner, target *Node, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	args := append([]string{"MIGRATE", "127.0.0.1", strconv.Itoa(target.Port), "", "0", "5000", "KEYS"}, keys...)
	if _, err := c.Do(ctx, owner, args...); err != nil {
		return fmt.Errorf("clustertest: MIGRATE %d keys %s -> %s: %w", len(keys), owner, target, err)
	}
	return nil
}

// drainSlot migrates every key of slot from owner to target.
func (c *Cluster) drainSlot(ctx context.Context, slot uint16, owner, target *Node) error {
	s := strconv.Itoa(int(slot))
	for {
		m, err := c.Do(ctx, owner, "CLUSTER", "GETKEYSINSLOT", s, strconv.Itoa(migrateBatch))
		if err != nil {
			return fmt.Errorf("clustertest: GETKEYSINSLOT %d on %s: %w", slot, owner, err)
		}
		keys, err := m.AsStrSlice()
		if err != nil {
			return fmt.Errorf("clustertest: GETKEYSINSLOT %d on %s: %w", slot, owner, err)
		}
		if len(keys) == 0 {
			return nil
		}
		if err := c.migrateKeys(ctx, owner, target, keys); err != nil {
			return err
		}
	}
}

// beginMigration sets IMPORTING on to and MIGRATING on from.
func (c *Cluster) beginMigration(ctx context.Context, slot uint16, from, to *Node) error {
	s := strconv.Itoa(int(slot))
	if _, err := c.Do(ctx, to, "CLUSTER", "SETSLOT", s, "IMPORTING", from.ID); err != nil {
		return fmt.Errorf("clustertest: SETSLOT %d IMPORTING on %s: %w", slot, to, err)
	}
	if _, err := c.Do(ctx, from, "CLUSTER", "SETSLOT", s, "MIGRATING", to.ID); err != nil {
		return fmt.Errorf("clustertest: SETSLOT %d MIGRATING on %s: %w", slot, from, err)
	}
	return nil
}

// finishMigration drains slot and assigns it to to on every primary.
func (c *Cluster) finishMigration(ctx context.Context, slot uint16, from, to *Node, order []*Node) error {
	if err := c.drainSlot(ctx, slot, from, to); err != nil {
		return err
	}
	s := strconv.Itoa(int(slot))
	for _, p := range order {
		_, err := c.Do(ctx, p, "CLUSTER", "SETSLOT", s, "NODE", to.ID)
		if err != nil && p != to && strings.Contains(err.Error(), "only with masters") {
			// The source gave away its last slot, learned it from the
			// target first and turned into a replica: nothing to do.
			continue
		}
		if err != nil {
			return fmt.Errorf("clustertest: SETSLOT %d NODE %s on %s: %w", slot, to, p, err)
		}
	}
	return nil
}

// MoveSlots moves the n lowest slots of from, with their keys, to to: for
// each slot SETSLOT IMPORTING/MIGRATING, GETKEYSINSLOT + MIGRATE ... KEYS,
// then SETSLOT NODE on every primary. It waits until the cluster is
// healthy and returns the slots moved. Note that Redis turns a primary
// that gives away its last slot into a replica of the receiver (unless
// "cluster-allow-replica-migration no" is in Options.ExtraConfig).
func (c *Cluster) MoveSlots(ctx context.Context, from, to *Node, n int) ([]uint16, error) {
	if err := c.managed(from); err != nil {
		return nil, err
	}
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	have, err := c.SlotsOf(ctx, from)
	if err != nil {
		return nil, err
	}
	if n <= 0 || n > len(have) {
		return nil, fmt.Errorf("clustertest: MoveSlots: cannot move %d slots, %s owns %d", n, from, len(have))
	}
	moved := slices.Clone(have[:n])
	if err := c.MoveSlotList(ctx, from, to, moved); err != nil {
		return nil, err
	}
	return moved, nil
}

// MoveSlotList moves exactly the given slots, with their keys, from from
// to to, one slot after the other as MoveSlots does, and waits until the
// cluster is healthy once at the end. Every slot must be owned by from
// (as from says) and listed once; nothing is moved otherwise.
//
// On Redis 7.0.13-7.0.15 (and 7.2.0-7.2.3) a replica of to may keep the
// last slot it saw to import flagged "owner not claiming" (a stale message
// from to); if that replica is later promoted and to comes back claiming
// its slots (resumed, restarted), the new primary loses that slot, and its
// keys, for good: cluster_state:fail until CLUSTER ADDSLOTS. No health
// check can see the flag, so tests that fail over a shard which imported
// slots should use a cluster of their own for the moves (see TestReshapes).
func (c *Cluster) MoveSlotList(ctx context.Context, from, to *Node, list []uint16) error {
	if err := c.managed(from); err != nil {
		return err
	}
	if err := c.managed(to); err != nil {
		return err
	}
	if from == to {
		return fmt.Errorf("clustertest: MoveSlotList from %s to itself", from)
	}
	if len(list) == 0 {
		return errors.New("clustertest: MoveSlotList: no slots")
	}
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	have, err := c.SlotsOf(ctx, from)
	if err != nil {
		return err
	}
	seen := make(map[uint16]bool, len(list))
	for _, s := range list {
		if seen[s] {
			return fmt.Errorf("clustertest: MoveSlotList: slot %d listed twice", s)
		}
		seen[s] = true
		if _, ok := slices.BinarySearch(have, s); !ok {
			return fmt.Errorf("clustertest: MoveSlotList: %s does not own slot %d", from, s)
		}
	}
	order, err := c.primariesForSetSlot(ctx, from, to)
	if err != nil {
		return err
	}
	begin := time.Now()
	for _, slot := range list {
		if err := c.beginMigration(ctx, slot, from, to); err != nil {
			return err
		}
		if err := c.finishMigration(ctx, slot, from, to, order); err != nil {
			return err
		}
	}
	c.logf("moved %d slots %s -> %s in %v", len(list), from, to, time.Since(begin).Round(time.Millisecond))
	return c.WaitHealthy(ctx)
}

// MoveSlot moves one slot, with its keys, from its owner to to, and waits
// until the cluster is healthy.
func (c *Cluster) MoveSlot(ctx context.Context, slot uint16, to *Node) error {
	if err := c.managed(to); err != nil {
		return err
	}
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	from, err := c.OwnerOf(ctx, slot)
	if err != nil {
		return err
	}
	if from == to {
		return nil
	}
	order, err := c.primariesForSetSlot(ctx, from, to)
	if err != nil {
		return err
	}
	if err := c.beginMigration(ctx, slot, from, to); err != nil {
		return err
	}
	if err := c.finishMigration(ctx, slot, from, to, order); err != nil {
		return err
	}
	return c.WaitHealthy(ctx)
}

// BeginMigration starts moving slot to to and leaves it half done: to is
// IMPORTING the slot and its owner is MIGRATING it, so clients get ASK
// (and TRYAGAIN for multi-key commands) redirections. Continue with
// MigrateKeys and FinishMigration.
func (c *Cluster) BeginMigration(ctx context.Context, slot uint16, to *Node) error {
	if err := c.managed(to); err != nil {
		return err
	}
	from, err := c.OwnerOf(ctx, slot)
	if err != nil {
		return err
	}
	if from == to {
		return fmt.Errorf("clustertest: BeginMigration: %s already owns slot %d", to, slot)
	}
	return c.beginMigration(ctx, slot, from, to)
}

// migration returns the owner of slot and the node it is migrating to.
func (c *Cluster) migration(ctx context.Context, slot uint16) (owner, target *Node, err error) {
	owner, err = c.OwnerOf(ctx, slot)
	if err != nil {
		return nil, nil, err
	}
	l, err := c.self(ctx, owner)
	if err != nil {
		return nil, nil, err
	}
	id, ok := l.migrating[int(slot)]
	if !ok {
		return nil, nil, fmt.Errorf("%w: slot %d on %s", ErrNoMigration, slot, owner)
	}
	target = c.NodeByID(id)
	if target == nil {
		return nil, nil, fmt.Errorf("%w: slot %d migrating to unknown node %s", ErrNotManaged, slot, id)
	}
	return owner, target, nil
}

// MigrateKeys moves the given keys of a migrating slot (see
// BeginMigration) from its owner to the importing node with MIGRATE. Every
// key must hash to slot; keys that do not exist are ignored.
func (c *Cluster) MigrateKeys(ctx context.Context, slot uint16, keys ...string) error {
	owner, target, err := c.migration(ctx, slot)
	if err != nil {
		return err
	}
	for _, k := range keys {
		m, err := c.Do(ctx, owner, "CLUSTER", "KEYSLOT", k)
		if err != nil {
			return fmt.Errorf("clustertest: CLUSTER KEYSLOT: %w", err)
		}
		ks, err := m.AsInt64()
		if err != nil {
			return fmt.Errorf("clustertest: CLUSTER KEYSLOT: %w", err)
		}
		if ks != int64(slot) {
			return fmt.Errorf("clustertest: MigrateKeys: key %q is in slot %d, not %d", k, ks, slot)
		}
	}
	return c.migrateKeys(ctx, owner, target, keys)
}

// FinishMigration completes a migration started with BeginMigration: it
// moves the remaining keys of slot and assigns the slot to the importing
// node on every primary, then waits until the cluster is healthy.
func (c *Cluster) FinishMigration(ctx context.Context, slot uint16) error {
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	owner, target, err := c.migration(ctx, slot)
	if err != nil {
		return err
	}
	order, err := c.primariesForSetSlot(ctx, owner, target)
	if err != nil {
		return err
	}
	if err := c.finishMigration(ctx, slot, owner, target, order); err != nil {
		return err
	}
	return c.WaitHealthy(ctx)
}

// AddNode starts a new node, introduces it with CLUSTER MEET, makes it a
// replica of replicaOf (nil: it stays an empty primary, owning no slots)
// and waits until the cluster is healthy.
func (c *Cluster) AddNode(ctx context.Context, replicaOf *Node) (*Node, error) {
	if replicaOf != nil {
		if err := c.managed(replicaOf); err != nil {
			return nil, err
		}
	}
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	var peer *Node
	for _, n := range c.liveNodes() {
		peer = n
		break
	}
	if peer == nil {
		return nil, fmt.Errorf("%w: no running node to meet", ErrNodeDown)
	}
	n, err := c.spawnNode(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.meet(ctx, n, peer); err != nil {
		return n, err
	}
	if replicaOf != nil {
		if err := c.replicate(ctx, n, replicaOf); err != nil {
			return n, err
		}
	}
	c.logf("added %s (replica of %v)", n, replicaOf)
	if err := c.WaitHealthy(ctx); err != nil {
		return n, err
	}
	return n, nil
}

// RemoveNode removes a node that owns no slots: it kills the node (if
// running), sends CLUSTER FORGET to every other running node (within the
// 60 s ban window) and waits until the cluster is healthy without it. The
// node's directory stays until Stop.
func (c *Cluster) RemoveNode(ctx context.Context, n *Node) error {
	if err := c.managed(n); err != nil {
		return err
	}
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	if n.getState() == stateRunning {
		slots, err := c.SlotsOf(ctx, n)
		if err != nil {
			return err
		}
		if len(slots) > 0 {
			return fmt.Errorf("clustertest: RemoveNode: %s still owns %d slots", n, len(slots))
		}
		if err := c.Kill(n); err != nil {
			return err
		}
	} else if n.getState() == statePaused {
		if err := c.Kill(n); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.nodes = slices.DeleteFunc(c.nodes, func(x *Node) bool { return x == n })
	c.removed = append(c.removed, n)
	c.mu.Unlock()
	n.mu.Lock()
	n.state = stateRemoved
	n.mu.Unlock()
	for _, o := range c.liveNodes() {
		if _, err := c.Do(ctx, o, "CLUSTER", "FORGET", n.ID); err != nil && !strings.Contains(err.Error(), "Unknown node") {
			return fmt.Errorf("clustertest: CLUSTER FORGET %s on %s: %w", n, o, err)
		}
	}
	c.logf("removed %s", n)
	return c.WaitHealthy(ctx)
}

// Heal resumes paused nodes, restarts killed ones and waits until the
// cluster is healthy: a t.Cleanup for tests that break the shared cluster.
// Roles are not restored (a failed-over primary stays a replica).
func (c *Cluster) Heal(ctx context.Context) error {
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	for _, n := range c.Nodes() {
		switch n.getState() {
		case statePaused:
			if err := c.Resume(n); err != nil {
				return err
			}
		case stateKilled:
			if err := c.launch(ctx, n); err != nil {
				return fmt.Errorf("clustertest: heal: restart %s: %w", n, err)
			}
		}
	}
	return c.WaitHealthy(ctx)
}

// FlushAll deletes every key: FLUSHALL on every running primary.
func (c *Cluster) FlushAll(ctx context.Context) error {
	ps, err := c.Primaries(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if _, err := c.Do(ctx, p, "FLUSHALL"); err != nil {
			return fmt.Errorf("clustertest: FLUSHALL on %s: %w", p, err)
		}
	}
	return nil
}
