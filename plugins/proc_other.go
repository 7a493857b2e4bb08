//go:build !linux

package plugins

import "syscall"

// sysProcAttr has no parent-death signal outside Linux; the SDK's parent watch and go-plugin's
// Kill on Close keep plugins from outliving the host.
func sysProcAttr() *syscall.SysProcAttr { return nil }
