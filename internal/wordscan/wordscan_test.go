package wordscan

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBraces compares Braces and Braces4, and First of them, with
// strings.IndexByte on every byte value at every one of the 8 positions,
// on bytes next to '{' and on several braces in one word.
func TestBraces(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			s := string(b)
			assert.Equal(t, strings.IndexByte(s, '{') >= 0, Braces(s) != 0, "%q", s)
			if m := Braces(s); m != 0 {
				assert.Equal(t, strings.IndexByte(s, '{'), First(m), "%q", s)
			}
			if pos < 4 {
				assert.Equal(t, strings.IndexByte(s[:4], '{') >= 0, Braces4(s) != 0, "%q", s[:4])
				if m := Braces4(s); m != 0 {
					assert.Equal(t, strings.IndexByte(s[:4], '{'), First(uint64(m)), "%q", s[:4])
				}
			}
		}
	}
	for _, s := range []string{"zzzzzzzz", "{{{{{{{{", "zzzzzzz{", "{zzzzzzz", "|||||||z", "zzzzzzzz{", "z{z{z{z{", "zz{{|{z{", "\x00{\x00{\x00\x00{{"} {
		assert.Equal(t, strings.IndexByte(s[:8], '{') >= 0, Braces(s) != 0, "%q", s)
		assert.Equal(t, strings.IndexByte(s[:4], '{') >= 0, Braces4(s) != 0, "%q", s)
		if m := Braces(s); m != 0 {
			assert.Equal(t, strings.IndexByte(s, '{'), First(m), "%q", s)
		}
		if m := Braces4(s); m != 0 {
			assert.Equal(t, strings.IndexByte(s, '{'), First(uint64(m)), "%q", s)
		}
	}
}

func TestView(t *testing.T) {
	assert.Equal(t, "abc", View([]byte("abc")))
	assert.Equal(t, "", View(nil))
}
