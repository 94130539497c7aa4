package slots_test

import (
	"fmt"

	"github.com/slotrouter/slotrouter/slots"
)

func ExampleOf() {
	fmt.Println(slots.Of("foo"))
	fmt.Println(slots.Of("{user1000}.following") == slots.Of("{user1000}.followers"))
	// Output:
	// 12182
	// true
}

func ExampleSet_Ranges() {
	var s slots.Set
	s.AddRange(slots.Range{Start: 0, End: 5460})
	s.Add(5461)
	s.AddRange(slots.Range{Start: 10923, End: 16383})
	fmt.Println(s.Count(), s.Ranges())
	// Output: 10923 [0-5461 10923-16383]
}

func ExampleParseRange() {
	r, err := slots.ParseRange("5461-10922")
	fmt.Println(r.Start, r.End, r.Len(), err)
	// Output: 5461 10922 5462 <nil>
}
