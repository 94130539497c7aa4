module github.com/slotrouter/slotrouter

go 1.26

require (
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/redis/rueidis v1.0.79
	github.com/redis/rueidis/mock v1.0.78
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require (
	go.uber.org/mock v0.6.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
