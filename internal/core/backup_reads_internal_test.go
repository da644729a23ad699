package core

import "testing"

// TestBackupReadShares: a website holds one read slot at most, a partner
// half of them (at least one); a slot released (once, however often the
// release is called) is free again, and nothing is left in the maps.
func TestBackupReadShares(t *testing.T) {
	b := &backupReads{sem: make(chan struct{}, 4), byWebsite: map[int64]int{}, byPartner: map[int64]int{}}
	a1, a2, a3 := Website{ID: 1, PartnerID: 10}, Website{ID: 2, PartnerID: 10}, Website{ID: 3, PartnerID: 10}
	other := Website{ID: 4, PartnerID: 20}
	take := func(w Website) func() {
		t.Helper()
		rel, err := b.acquire(w)
		if err != nil {
			t.Fatalf("acquire for website %d: %v", w.ID, err)
		}
		return rel
	}
	refused := func(w Website, why string) {
		t.Helper()
		if _, err := b.acquire(w); ErrorCode(err) != ERATELIMITED {
			t.Fatalf("%s: %v, want rate_limited", why, err)
		}
	}
	r1 := take(a1)
	refused(a1, "a second read of the same website")
	r2 := take(a2)
	refused(a3, "a third read of a partner holding half of four slots")
	r3 := take(other) // another partner is not kept out
	r1()
	r1() // twice: frees one slot, not two
	r4 := take(a3)
	refused(a1, "the partner's share again")
	r5 := take(Website{ID: 5, PartnerID: 30})
	refused(Website{ID: 6, PartnerID: 40}, "every slot taken")
	for _, r := range []func(){r2, r3, r4, r5} {
		r()
	}
	if len(b.sem) != 0 || len(b.byWebsite) != 0 || len(b.byPartner) != 0 {
		t.Fatalf("after every release: %d slots, %v, %v", len(b.sem), b.byWebsite, b.byPartner)
	}
	// One slot: a partner's share is that one slot.
	one := &backupReads{sem: make(chan struct{}, 1), byWebsite: map[int64]int{}, byPartner: map[int64]int{}}
	if rel, err := one.acquire(a1); err != nil {
		t.Fatal(err)
	} else {
		rel()
	}
}
