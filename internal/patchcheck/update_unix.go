//go:build unix

package patchcheck

import (
	"os/exec"
	"syscall"
)

// killGroup runs the command in its own process group and, on timeout,
// kills the whole group: an update script's children (php, curl) would
// otherwise outlive it and hold its output open.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
