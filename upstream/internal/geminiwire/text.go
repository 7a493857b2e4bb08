package geminiwire

import "strings"

// Split splits text into at most n pieces of about equal length, cutting after a space where it
// can, so that joining the pieces gives text back. n < 1 counts as 1; an empty text gives one
// empty piece.
func Split(text string, n int) []string {
	n = max(n, 1)
	words := strings.SplitAfter(text, " ")
	if len(words) < n {
		n = len(words)
	}
	pieces := make([]string, 0, n)
	for i := range n {
		from, to := i*len(words)/n, (i+1)*len(words)/n
		pieces = append(pieces, strings.Join(words[from:to], ""))
	}
	return pieces
}

// Lorem returns size bytes of filler text made of plain words, for scripted and simulated replies.
func Lorem(size int) string {
	const words = "streamgate relays every delta of this generated reply to each subscriber in order. "
	var b strings.Builder
	b.Grow(size)
	for b.Len() < size {
		b.WriteString(words[:min(len(words), size-b.Len())])
	}
	return b.String()
}
