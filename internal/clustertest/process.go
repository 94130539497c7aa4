package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Ports are picked in [minPort, maxPort]; the cluster bus is port+busOffset.
// maxPort+busOffset stays below Linux's default ephemeral range (32768), so
// outgoing connections of other programs do not take our bus ports.
const (
	minPort       = 20000
	maxPort       = 22767
	busOffset     = 10000
	spawnAttempts = 25
	pollEvery     = 25 * time.Millisecond
	readyLine     = "Ready to accept connections"
)

// errPortBusy means a node could not bind its ports; another port is tried.
var errPortBusy = errors.New("port busy")

// proc is one started process; done is closed once it has been reaped.
type proc struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{}
	err  error // Wait's result, valid once done is closed
}

// startProc starts bin with args in dir; output goes to out (may be nil).
// A goroutine reaps the process.
func startProc(bin string, args []string, dir string, out *os.File) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process (unless already reaped) and waits until
// it is reaped.
func (p *proc) kill() error {
	if !p.exited() {
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("pid %d not reaped 10s after SIGKILL", p.pid)
	}
}

func (p *proc) signal(sig syscall.Signal) error {
	if p.exited() {
		return fmt.Errorf("pid %d: %w", p.pid, os.ErrProcessDone)
	}
	return p.cmd.Process.Signal(sig)
}

// runCommand runs a short-lived command and returns its combined output.
// It honours ctx by killing the process; so it does when watch (if not nil,
// called every 100ms) returns an error.
func runCommand(ctx context.Context, bin string, args []string, dir string, watch func() error) (string, error) {
	f, err := os.CreateTemp(dir, "cmd-*.out")
	if err != nil {
		return "", err
	}
	name := f.Name()
	defer os.Remove(name)
	p, err := startProc(bin, args, dir, f)
	f.Close()
	if err != nil {
		return "", err
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var werr error
	for werr == nil {
		select {
		case <-p.done:
			out, _ := os.ReadFile(name)
			return string(out), p.err
		case <-ctx.Done():
			werr = ctx.Err()
		case <-t.C:
			if watch != nil {
				werr = watch()
			}
		}
	}
	_ = p.kill()
	out, _ := os.ReadFile(name)
	return string(out), werr
}

// canBind reports whether port and its bus port are free on 127.0.0.1.
func canBind(port int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, p := range []int{port, port + busOffset} {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}

// pickPort reserves a random port not used by this cluster whose port and
// bus port can be bound right now.
func (c *Cluster) pickPort() (int, error) {
	for range 200 {
		port := minPort + rand.IntN(maxPort-minPort+1)
		c.mu.Lock()
		used := c.ports[port]
		if !used {
			c.ports[port] = true
		}
		c.mu.Unlock()
		if used {
			continue
		}
		if canBind(port) {
			return port, nil
		}
		c.releasePort(port)
	}
	return 0, errors.New("clustertest: no free port pair found")
}

func (c *Cluster) releasePort(port int) {
	c.mu.Lock()
	delete(c.ports, port)
	c.mu.Unlock()
}

func (c *Cluster) nodeConfig(port int, dir string) string {
	lines := []string{
		"port " + strconv.Itoa(port),
		"bind 127.0.0.1",
		"daemonize no",
		"cluster-enabled yes",
		"cluster-config-file nodes.conf",
		"cluster-node-timeout " + strconv.FormatInt(c.opts.NodeTimeout.Milliseconds(), 10),
		"appendonly no",
		`save ""`,
		"repl-diskless-sync yes",
		"repl-diskless-sync-delay 0",
		"enable-debug-command local",
		"logfile " + strconv.Quote(filepath.Join(dir, "redis.log")),
		"dir " + strconv.Quote(dir),
	}
	lines = append(lines, c.opts.ExtraConfig...)
	return strings.Join(lines, "\n") + "\n"
}

// spawnNode creates, starts and identifies a new node on a fresh port,
// retrying with other ports when it loses a race for one. The node is added
// to c.nodes.
func (c *Cluster) spawnNode(ctx context.Context) (*Node, error) {
	var last error
	for range spawnAttempts {
		port, err := c.pickPort()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(c.dir, strconv.Itoa(port))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("clustertest: %w", err)
		}
		n := &Node{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, Dir: dir}
		if err := os.WriteFile(n.ConfigPath(), []byte(c.nodeConfig(port, dir)), 0o644); err != nil {
			return nil, fmt.Errorf("clustertest: %w", err)
		}
		err = c.launch(ctx, n)
		if errors.Is(err, errPortBusy) {
			c.logf("port %d taken, trying another", port)
			last = err
			_ = os.RemoveAll(dir)
			// Keep the port marked used: somebody else has it.
			continue
		}
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.stopped {
			c.mu.Unlock()
			_ = n.proc.kill()
			return nil, ErrStopped
		}
		c.nodes = append(c.nodes, n)
		c.mu.Unlock()
		id, err := c.doString(ctx, n, "CLUSTER", "MYID")
		if err != nil {
			return nil, err
		}
		n.ID = id
		return n, nil
	}
	return nil, fmt.Errorf("clustertest: could not start a node after %d attempts: %w", spawnAttempts, last)
}

// launch starts n's redis-server from its config and waits until the log
// says it is ready. It sets n.proc and n.state on success.
func (c *Cluster) launch(ctx context.Context, n *Node) error {
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	var offset int64
	if st, err := os.Stat(n.LogPath()); err == nil {
		offset = st.Size()
	}
	out, err := os.OpenFile(filepath.Join(n.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("clustertest: %w", err)
	}
	p, err := startProc(c.serverBin, []string{n.ConfigPath()}, n.Dir, out)
	out.Close()
	if err != nil {
		return fmt.Errorf("clustertest: start %s: %w", c.serverBin, err)
	}
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			log := readFrom(n.LogPath(), offset) + readFrom(filepath.Join(n.Dir, "stdout.log"), 0)
			if strings.Contains(log, "Address already in use") {
				return errPortBusy
			}
			return fmt.Errorf("clustertest: redis-server for %s exited (%v); log tail:\n%s", n.Addr, p.err, tail(log, 20))
		case <-ctx.Done():
			_ = p.kill()
			return fmt.Errorf("clustertest: redis-server for %s not ready: %w; log tail:\n%s", n.Addr, ctx.Err(), tail(readFrom(n.LogPath(), offset), 20))
		case <-t.C:
			if strings.Contains(readFrom(n.LogPath(), offset), readyLine) {
				n.mu.Lock()
				n.proc = p
				n.state = stateRunning
				n.mu.Unlock()
				return nil
			}
		}
	}
}

// readFrom returns the file's content from offset ("" when unreadable).
func readFrom(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return string(b[offset:])
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogTail returns the last n lines of the node's server log.
func (n *Node) LogTail(lines int) string {
	b, err := os.ReadFile(n.LogPath())
	if err != nil {
		return ""
	}
	return tail(string(bytes.TrimRight(b, "\n")), lines)
}
