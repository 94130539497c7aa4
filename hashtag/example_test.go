package hashtag_test

import (
	"fmt"

	"github.com/slotrouter/slotrouter/hashtag"
)

func ExampleExtract() {
	fmt.Println(hashtag.Extract("user:{42}:name"))
	fmt.Println(hashtag.Extract("foo{}{bar}"))
	fmt.Println(hashtag.Extract("foo{{bar}}zap"))
	// Output:
	// 42
	// foo{}{bar}
	// {bar
}

func ExampleKey() {
	// Keys built from one tag always share a slot, so multi-key commands
	// such as MGET or a MULTI/EXEC block can use them together.
	fmt.Println(hashtag.Key("cart:7", ":items"), hashtag.Key("cart:7", ":total"))
	tag, ok := hashtag.Shared(hashtag.Key("cart:7", ":items"), hashtag.Key("cart:7", ":total"))
	fmt.Println(tag, ok)
	// Output:
	// {cart:7}:items {cart:7}:total
	// cart:7 true
}
