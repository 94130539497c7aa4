package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// authEnv is the environment variable redis-cli reads the password from.
const authEnv = "REDISCLI_AUTH"

// connFlags are the connection flags of every subcommand that talks to a
// live cluster (check -addr, plan ... -addr, apply).
type connFlags struct {
	user, pass        string
	tls, insecure     bool
	cacert, cert, key string
}

// addConnFlags registers -user, -pass, -tls, -cacert, -cert, -key and
// -insecure on fs.
func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{}
	fs.StringVar(&c.user, "user", "", "ACL user name")
	fs.StringVar(&c.pass, "pass", "", "password (default: $"+authEnv+", which ps does not show)")
	fs.BoolVar(&c.tls, "tls", false, "connect with TLS")
	fs.StringVar(&c.cacert, "cacert", "", "CA certificate (PEM) that signs the servers' certificates (-tls)")
	fs.StringVar(&c.cert, "cert", "", "client certificate (PEM) for TLS client authentication (-tls)")
	fs.StringVar(&c.key, "key", "", "private key (PEM) of -cert (-tls)")
	fs.BoolVar(&c.insecure, "insecure", false, "do not verify the servers' certificates (-tls)")
	return c
}

// dialConfig says how to open a connection to a node.
type dialConfig struct {
	timeout  time.Duration
	user     string
	password string
	tls      *tls.Config
}

// config turns the flags into a dialConfig. The password comes from -pass,
// else from $REDISCLI_AUTH.
func (c *connFlags) config(timeout time.Duration) (dialConfig, error) {
	d := dialConfig{timeout: timeout, user: c.user, password: c.pass}
	if timeout <= 0 {
		return d, fmt.Errorf("-timeout must be above 0 (got %v)", timeout)
	}
	if d.password == "" {
		d.password = os.Getenv(authEnv)
	}
	if d.user != "" && d.password == "" {
		return d, fmt.Errorf("-user %q needs a password (-pass or $%s)", d.user, authEnv)
	}
	if !c.tls {
		for _, f := range []struct {
			name string
			set  bool
		}{{"-cacert", c.cacert != ""}, {"-cert", c.cert != ""}, {"-key", c.key != ""}, {"-insecure", c.insecure}} {
			if f.set {
				return d, fmt.Errorf("%s needs -tls", f.name)
			}
		}
		return d, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.insecure} //nolint:gosec // -insecure is the operator's explicit choice
	if c.cacert != "" {
		pem, err := os.ReadFile(c.cacert)
		if err != nil {
			return d, fmt.Errorf("-cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return d, fmt.Errorf("-cacert %s: no PEM certificate in it", c.cacert)
		}
		cfg.RootCAs = pool
	}
	if (c.cert == "") != (c.key == "") {
		return d, errors.New("-cert and -key go together")
	}
	if c.cert != "" {
		pair, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return d, fmt.Errorf("-cert/-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	d.tls = cfg
	return d, nil
}

// redact hides the password in text meant for output.
func (d dialConfig) redact(s string) string {
	if d.password == "" {
		return s
	}
	return strings.ReplaceAll(s, d.password, "***")
}

// clientOption is the rueidis option of a connection of its own to addr:
// a single-node client without cache or retries.
func (d dialConfig) clientOption(addr string) rueidis.ClientOption {
	return rueidis.ClientOption{
		InitAddress:       []string{addr},
		ForceSingleClient: true,
		DisableCache:      true,
		DisableRetry:      true,
		Username:          d.user,
		Password:          d.password,
		TLSConfig:         d.tls,
		Dialer:            net.Dialer{Timeout: d.timeout},
	}
}

// dial opens a connection of its own to one node, as d says (a
// livelayout.Dial). The caller closes it.
func (d dialConfig) dial(addr string) (rueidis.Client, error) { return dialNodeWith(addr, d) }

// dialNodeWith opens a connection of its own to one node. The caller
// closes it.
func dialNodeWith(addr string, d dialConfig) (rueidis.Client, error) {
	return rueidis.NewClient(d.clientOption(addr))
}
