package web

import (
	"errors"
	"testing"
)

// TestC1Latest: latest reads an oldest-first log page by page and keeps
// its last logPage entries, newest first, reading at most logPages pages.
func TestC1Latest(t *testing.T) {
	log := func(n int) func(after int64) ([]int64, error) {
		return func(after int64) ([]int64, error) {
			var out []int64
			for id := after + 1; id <= int64(n) && len(out) < logPage; id++ {
				out = append(out, id)
			}
			return out, nil
		}
	}
	id := func(v int64) int64 { return v }
	for _, tc := range []struct {
		n         int
		first     int64
		length    int
		truncated bool
	}{
		{0, 0, 0, false},
		{3, 3, 3, false},
		{logPage, logPage, logPage, false},
		{logPage + 1, logPage + 1, logPage, false},
		{1234, 1234, logPage, false},
		{logPage * logPages * 2, logPage * logPages, logPage, true},
	} {
		got, truncated, err := latest(log(tc.n), id)
		if err != nil || len(got) != tc.length || truncated != tc.truncated || (len(got) > 0 && (got[0] != tc.first || got[len(got)-1] != tc.first-int64(tc.length)+1)) {
			t.Errorf("%d entries: %d, first %v, truncated %v, %v", tc.n, len(got), got[:min(1, len(got))], truncated, err)
		}
	}
	if _, _, err := latest(func(int64) ([]int64, error) { return nil, errors.New("down") }, id); err == nil {
		t.Error("an error is lost")
	}
}
