// Package openaiwire writes and reads OpenAI's chat-completions wire format as the runner, the
// embedded simulator and the scriptable fake share it: the JSON of a chat.completion and of its
// streamed chat.completion.chunk events, the data: [DONE] terminator, OpenAI's error body, and
// what a request asks for (its model, stream and stream_options.include_usage). Writing and
// reading the same code keeps what the fakes send and what the runner expects in agreement.
//
// Package openaiwire imports nothing from streamgate.
package openaiwire
