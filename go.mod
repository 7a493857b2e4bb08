module github.com/streamgate/streamgate

go 1.26
