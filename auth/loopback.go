package auth

import (
	"net"
	"net/netip"
	"strings"
)

// IsLoopback reports whether a listen address ("host:port", or a bare host) accepts connections from
// this machine only: a loopback IP (127.0.0.0/8, ::1, also IPv4-mapped or with a zone) or the name
// "localhost". An empty host (":8080"), an unspecified address ("0.0.0.0:8080", "[::]:8080") and every
// other name are not loopback: names other than localhost are not resolved, so the answer is safe.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.Unmap().IsLoopback()
}
