package web

import (
	"errors"
	"testing"
)

// TestC1Latest: latest asks for one entry more than it shows, keeps the
// first logPage (the store gives them newest first) and says when the log
// goes on past them.
func TestC1Latest(t *testing.T) {
	log := func(n int) func(limit int) ([]int64, error) {
		return func(limit int) ([]int64, error) {
			var out []int64
			for id := int64(n); id > 0 && len(out) < limit; id-- {
				out = append(out, id)
			}
			return out, nil
		}
	}
	for _, tc := range []struct {
		n         int
		length    int
		truncated bool
	}{
		{0, 0, false}, {3, 3, false}, {logPage, logPage, false}, {logPage + 1, logPage, true}, {12345, logPage, true},
	} {
		got, truncated, err := latest(log(tc.n))
		if err != nil || len(got) != tc.length || truncated != tc.truncated || (len(got) > 0 && got[0] != int64(tc.n)) {
			t.Errorf("%d entries: %d, first %v, truncated %v, %v", tc.n, len(got), got[:min(1, len(got))], truncated, err)
		}
	}
	if _, _, err := latest(func(int) ([]int64, error) { return nil, errors.New("down") }); err == nil {
		t.Error("an error is lost")
	}
}
