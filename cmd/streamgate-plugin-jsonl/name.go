package main

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
)

// maxNameLen bounds one escaped name: a file name holds two of them and must stay under the
// 255 bytes most file systems allow.
const maxNameLen = 120

// streamPath is the file of one stream instance: <dir>/<tenant>/<stream id>.<instance>.jsonl, or
// <dir>/<stream id>.<instance>.jsonl for the empty tenant of open mode. A stream ID can be used
// again once its stream was forgotten, by another tenant too, so the ID alone does not name a
// stream. Every part is escaped by escapeName, which never yields a '.' or a '/': no tenant or ID
// can leave dir, a tenant's directory never clashes with a file, and two streams never share one.
func streamPath(dir, tenant, streamID, instance string) string {
	return filepath.Join(dir, escapeName(tenant), escapeName(streamID)+"."+escapeName(instance)+".jsonl")
}

// escapeName keeps ASCII letters, digits, '-' and '_' and writes every other byte as %XX. A result
// longer than maxNameLen is replaced by '~' and the hex SHA-256 of s.
func escapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		const hexDigits = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	if b.Len() > maxNameLen {
		sum := sha256.Sum256([]byte(s))
		return "~" + hex.EncodeToString(sum[:])
	}
	return b.String()
}
