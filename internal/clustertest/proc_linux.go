//go:build linux

package clustertest

import "syscall"

// sysProcAttr makes the kernel kill a server when the test binary dies, so
// that a crashed test run leaves no servers behind. Linux sends the signal
// when the OS thread that started the child exits; Go only ends threads of
// goroutines that exit while locked with runtime.LockOSThread, so do not
// call Start, Restart or AddNode from such a goroutine.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
