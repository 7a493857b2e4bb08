package plugins

import "syscall"

// sysProcAttr makes Linux kill a plugin when the host thread that started it dies. The SDK also
// watches its parent, which covers the case where only that thread ends.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
