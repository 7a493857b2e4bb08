package sdk

import (
	"os"
	"time"
)

// watchParent calls gone once the process's parent is no longer ppid: the host died and the plugin
// was re-parented (to init or a subreaper). It complements the host's Pdeathsig, which Linux
// delivers when the host thread that started the plugin exits, not only when the host does.
// A process already orphaned (ppid 1) is not watched. The goroutine lives as long as the process.
func watchParent(ppid int, every time.Duration, gone func()) {
	if ppid <= 1 {
		return
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for range t.C {
			if os.Getppid() != ppid {
				gone()
				return
			}
		}
	}()
}
