package topology

// ReconcileOptions configures Reconcile. The zero value is the default.
type ReconcileOptions struct {
	// MapAddr maps an announced "host:port" to a dialable one (the
	// address-mapping hook). Nil keeps the previous snapshot's hook, or
	// addresses as announced when there is no previous snapshot.
	MapAddr func(announced string) string
}

// Reconcile builds the next snapshot from prev (nil for the first load)
// and the views several nodes gave, the way the cluster itself settles
// conflicts:
//
//   - Per slot, the claim of the primary with the highest known config
//     epoch wins. When no claim carries an epoch, the majority of views
//     wins; ties keep prev's owner, then the later view.
//   - A slot prev covered that no view claims becomes uncovered only when at
//     least two views confirm it; a slot whose owner is failed is never
//     dropped by omission (partial views of a failed shard, redis 13414).
//   - A slot fixed by ApplyMoved is overridden only by a claim with a
//     strictly newer epoch than the slot's entry, or by the view of the
//     fixed owner itself; a view agreeing with it confirms it.
//
// The result has version prev.Version()+1 (1 when prev is nil). Reconcile
// never modifies prev or the views.
func Reconcile(prev *Snapshot, views []View, opts ReconcileOptions) (*Snapshot, error) {
	if len(views) == 0 {
		return nil, ErrNoViews
	}
	return nil, ErrNoViews // TODO(part A): implemented in the next commit.
}
