package core

import (
	"testing"
	"time"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 30, 0, 0, time.UTC) }

func TestAddMonthsKeepsTheAnniversary(t *testing.T) {
	start := day(2027, 1, 31)
	want := []time.Time{day(2027, 2, 28), day(2027, 3, 31), day(2027, 4, 30), day(2027, 5, 31), day(2027, 6, 30)}
	for i, w := range want {
		if got := AddMonths(start, i+1, 31); !got.Equal(w) {
			t.Errorf("2027-01-31 + %d months = %v; want %v", i+1, got, w)
		}
	}
	// From a clamped date, with the original anniversary day, no drift.
	if got := AddMonths(day(2027, 2, 28), 1, 31); !got.Equal(day(2027, 3, 31)) {
		t.Errorf("Feb 28 (anniversary 31) + 1 = %v", got)
	}
	// Leap years.
	if got := AddMonths(day(2028, 1, 30), 1, 30); !got.Equal(day(2028, 2, 29)) {
		t.Errorf("2028-01-30 + 1 = %v", got)
	}
	if got := AddMonths(day(2028, 2, 29), 12, 29); !got.Equal(day(2029, 2, 28)) {
		t.Errorf("2028-02-29 + 12 = %v", got)
	}
	// Backwards, across years; day 0 means t's own day.
	if got := AddMonths(day(2027, 3, 31), -13, 0); !got.Equal(day(2026, 2, 28)) {
		t.Errorf("2027-03-31 - 13 = %v", got)
	}
	if got := AddMonths(day(2026, 12, 29), 2, 0); !got.Equal(day(2027, 2, 28)) {
		t.Errorf("2026-12-29 + 2 = %v (the day the suite used to fail)", got)
	}
}

// TestMonthProperties checks every start day of 2027 and 2028 (a leap year)
// with 1..36 months: the result is in the right month, on the anniversary
// day or the month's last day, adding in steps equals adding at once,
// MonthsBetween finds the count back, and the remaining-term measure of a
// fresh term is exactly its length in months.
func TestMonthProperties(t *testing.T) {
	for s := day(2027, 1, 1); s.Year() < 2029; s = s.AddDate(0, 0, 1) {
		anniv := s.Day()
		stepped := s
		for n := 1; n <= 36; n++ {
			got := AddMonths(s, n, anniv)
			wantMonth := (int(s.Month())-1+n)%12 + 1
			wantYear := s.Year() + (int(s.Month())-1+n)/12
			if got.Year() != wantYear || int(got.Month()) != wantMonth {
				t.Fatalf("%s + %d = %s: wrong month", s.Format("2006-01-02"), n, got)
			}
			if wantDay := min(anniv, daysIn(wantYear, time.Month(wantMonth))); got.Day() != wantDay {
				t.Fatalf("%s + %d = %s: day %d, want %d", s.Format("2006-01-02"), n, got, got.Day(), wantDay)
			}
			if got.Hour() != 9 || got.Minute() != 30 {
				t.Fatalf("%s + %d = %s: time of day lost", s.Format("2006-01-02"), n, got)
			}
			stepped = AddMonths(stepped, 1, anniv)
			if !stepped.Equal(got) {
				t.Fatalf("%s + 1 month × %d = %s; + %d months = %s", s.Format("2006-01-02"), n, stepped, n, got)
			}
			if back, ok := MonthsBetween(s, got, anniv); !ok || back != n {
				t.Fatalf("MonthsBetween(%s, %s) = %d, %v; want %d", s.Format("2006-01-02"), got.Format("2006-01-02"), back, ok, n)
			}
			whole, num, den := TermLeft(s, got, anniv)
			if whole+num/den != int64(n) || num%den != 0 {
				t.Fatalf("TermLeft(%s → %s) = %d + %d/%d; want %d months", s.Format("2006-01-02"), got.Format("2006-01-02"), whole, num, den, n)
			}
			if c := TermCharge(400, s, got, anniv); c != Cents(400*n) {
				t.Fatalf("upgrade of 4.00/month on a fresh %d-month term from %s costs %s; want %s", n, s.Format("2006-01-02"), c, Cents(400*n))
			}
		}
	}
}

func TestMonthsBetweenRefusesOtherDays(t *testing.T) {
	if _, ok := MonthsBetween(day(2026, 12, 29), day(2027, 3, 1), 29); ok {
		t.Error("2027-03-01 is not a whole number of months after 2026-12-29")
	}
	if n, ok := MonthsBetween(day(2026, 12, 29), time.Date(2027, 2, 28, 0, 0, 0, 0, time.UTC), 29); !ok || n != 2 {
		t.Errorf("2027-02-28 is 2 months after 2026-12-29 (anniversary 29): %d %v", n, ok)
	}
	if n, ok := MonthsBetween(day(2027, 2, 28), day(2027, 3, 31), 31); !ok || n != 1 {
		t.Errorf("Mar 31 is 1 month after Feb 28 on anniversary 31: %d %v", n, ok)
	}
	if _, ok := MonthsBetween(day(2027, 2, 28), day(2027, 3, 28), 31); ok {
		t.Error("Mar 28 is not on anniversary 31")
	}
}

// TestTermChargeWorkedExamples are the examples docs/API.md shows.
func TestTermChargeWorkedExamples(t *testing.T) {
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	cases := []struct {
		name          string
		diff          Cents
		now, expires  time.Time
		anniv         int
		want          Cents
		wantTermWords string
	}{
		// 10k → 20k (4.00 more a month), term Jan 31 → Feb 28, upgraded on
		// Feb 14 at noon: 13.5 of this billing month's 28 days are left.
		{"month end", 400, at(2027, 2, 14, 12), at(2027, 2, 28, 0), 31, 193, "13.5 days"},
		// Leap February: 29 days; 10 days left of Feb 1 → Mar 1.
		{"leap year", 400, at(2028, 2, 20, 0), at(2028, 3, 1, 0), 1, 138, "10.0 days"},
		// After a 35-month renewal, 10k → 200k (55.00 more a month) with 35
		// whole months and half of a 30-day month left: 55 × 35.5.
		{"long term", 5500, at(2026, 11, 16, 0), at(2029, 11, 1, 0), 1, 195250, "35 months and 15.0 days"},
		// 3 add-on units (2.50 each) added on an anniversary (Mar 31, term
		// to Jun 30 on day 31): exactly 3 whole months left.
		{"add-on", 750, at(2027, 3, 31, 0), at(2027, 6, 30, 0), 31, 2250, "3 months and 0.0 days"},
		// A backup add-on at 4.01 bought on Feb 14 of a Jan 31 → Feb 28
		// term: 14 of 28 days, 2.005 rounded half up.
		{"scanning add-on", 401, at(2027, 2, 14, 8), at(2027, 2, 28, 8), 31, 201, "14.0 days"},
		{"expired", 400, at(2027, 3, 2, 0), at(2027, 3, 1, 0), 1, 0, "0.0 days"},
	}
	for _, c := range cases {
		if got := TermCharge(c.diff, c.now, c.expires, c.anniv); got != c.want {
			t.Errorf("%s: TermCharge = %s; want %s", c.name, got, c.want)
		}
		if got := termText(c.now, c.expires, c.anniv); got != c.wantTermWords {
			t.Errorf("%s: termText = %q; want %q", c.name, got, c.wantTermWords)
		}
	}
}
