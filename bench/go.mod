module github.com/streamgate/streamgate/bench

go 1.26.0

replace github.com/streamgate/streamgate => ../

require (
	github.com/openai/openai-go/v3 v3.96.0
	github.com/streamgate/streamgate v0.0.0-00010101000000-000000000000
	github.com/tmaxmax/go-sse v0.11.0
)

require (
	github.com/tidwall/gjson v1.20.0 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
)
