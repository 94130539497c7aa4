//go:build linux

package clustertest

import "syscall"

// sysProcAttr makes the kernel kill a server when the test binary dies, so
// that a crashed test run leaves no servers behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
