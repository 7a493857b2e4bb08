package manager

// Observer is told when streams open and close, so that an owner can count them (the command
// hands it the metrics). Each stream is opened once and closed once, whatever closes it:
// CloseStream, HandleStreamError with terminate, the inactivity timeout or Shutdown. The calls
// are made outside the manager's locks, by the goroutine that opened or closed the stream, so an
// Observer must be safe for concurrent use and return promptly. In the rare race of a stream
// closed by someone else while its creator is still returning from CreateStreamWith, its
// StreamClosed can come before its StreamOpened; both still come. PushChunk never calls it.
type Observer interface {
	// StreamOpened describes a stream just created.
	StreamOpened(info StreamInfo)
	// StreamClosed describes a stream just closed: Status, CloseReason and Err say how.
	StreamClosed(info StreamInfo)
}

// observeClosed tells the Observer, if there is one, that s closed. Without one it costs
// nothing: no StreamInfo is built.
func (m *Manager) observeClosed(s *stream) {
	if m.cfg.Observer != nil {
		m.cfg.Observer.StreamClosed(s.info())
	}
}
