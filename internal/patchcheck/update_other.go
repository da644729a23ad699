//go:build !unix

package patchcheck

import "os/exec"

// killGroup leaves the default: only the command itself is killed.
func killGroup(cmd *exec.Cmd) {}
