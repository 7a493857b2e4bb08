package sse

import "bytes"

// byteSearch remembers how far a Reader has searched its buffer for one byte value, so that each
// byte of input is searched at most once whatever the read sizes: the input is scanned in linear
// time with bytes.IndexByte.
type byteSearch struct {
	at   int // index of the next occurrence at or after the line start, or -1 if none is known
	from int // when at is stale or -1: buf[:from] has been searched
}

// find returns the index of the first c in buf[start:end], or -1.
func (s *byteSearch) find(buf []byte, start, end int, c byte) int {
	if s.at >= start {
		return s.at
	}
	s.at = -1
	s.from = max(s.from, start)
	if s.from < end {
		if i := bytes.IndexByte(buf[s.from:end], c); i >= 0 {
			s.at = s.from + i
			return s.at
		}
		s.from = end
	}
	return -1
}

// shift follows the buffer's contents moving k bytes to the front.
func (s *byteSearch) shift(k int) {
	if s.at >= 0 {
		s.at -= k
	}
	s.from -= k
}
