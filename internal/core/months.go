package core

import (
	"math/big"
	"time"
)

// Month arithmetic has one home: this file. Expiry dates, renewals, pro-rata
// charges, XML renewal_date, GP renew, quota months and statistics months all
// go through AddMonths, never through time.Time.AddDate, which overflows
// (2027-01-31 + 1 month = 2027-03-03).

// AddMonths returns the date n months (n may be negative) after t, on the
// anniversary day `day` of the target month, clamped to that month's last
// day, at t's time of day, in UTC. day is 1..31; 0 (or out of range) means
// t's own day of the month.
//
// Because the day is the original anniversary and not t's possibly clamped
// day, a website registered on January 31 expires on Feb 28 (29 in a leap
// year), Mar 31, Apr 30, May 31: the clamp never drifts.
func AddMonths(t time.Time, n, day int) time.Time {
	t = t.UTC()
	if day < 1 || day > 31 {
		day = t.Day()
	}
	y, m, _ := t.Date()
	total := int(m) - 1 + n
	y += floorDiv(total, 12)
	m = time.Month(total-floorDiv(total, 12)*12) + 1
	if last := daysIn(y, m); day > last {
		day = last
	}
	h, mi, s := t.Clock()
	return time.Date(y, m, day, h, mi, s, t.Nanosecond(), time.UTC)
}

// MonthsBetween returns n when to == AddMonths(from, n, day) for some n
// (positive or not), and false otherwise. Only the calendar date is
// compared, so a renewal_date given as a plain date matches an expiry at
// any time of day.
func MonthsBetween(from, to time.Time, day int) (int, bool) {
	from, to = from.UTC(), to.UTC()
	n := (to.Year()-from.Year())*12 + int(to.Month()-from.Month())
	got := AddMonths(from, n, day)
	return n, sameDate(got, to)
}

func sameDate(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// MonthStart returns the first instant of t's month (UTC); statistics and
// quotas count per calendar month from here.
func MonthStart(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// TermLeft measures the unused part of a paid term that ends at expires
// with anniversary day `day`, seen at now: whole billing months plus the
// fraction of the current billing month, as the exact ratio num/den
// (den = the current billing month's length in seconds). A billing month
// runs from one anniversary to the next, so February's is 28 or 29 days
// and March's 31. It returns 0/1 when the term is over.
func TermLeft(now, expires time.Time, day int) (whole int64, num, den int64) {
	if !expires.After(now) {
		return 0, 0, 1
	}
	// Find the billing month [start, end) that contains now, counting
	// back from expires.
	end := expires.UTC()
	for k := 1; ; k++ {
		start := AddMonths(expires, -k, day)
		if !start.After(now) {
			den = int64(end.Sub(start) / time.Second)
			num = int64(end.Sub(now) / time.Second)
			if den <= 0 {
				den = 1
			}
			if num == den { // now is on an anniversary: k whole months
				return int64(k), 0, den
			}
			return int64(k - 1), num, den
		}
		end = start
	}
}

// TermCharge is what an increase of monthlyDiff in a website's monthly
// price costs for the rest of its term: monthlyDiff × (whole months left +
// the fraction left of the current billing month), rounded half up to the
// cent. It is the only formula for upgrades and add-on increases.
func TermCharge(monthlyDiff Cents, now, expires time.Time, day int) Cents {
	if monthlyDiff <= 0 {
		return 0
	}
	whole, num, den := TermLeft(now, expires, day)
	// monthlyDiff × (whole·den + num) / den, rounded half up, exactly.
	n := new(big.Int).Mul(big.NewInt(whole), big.NewInt(den))
	n.Add(n, big.NewInt(num))
	n.Mul(n, big.NewInt(int64(monthlyDiff)))
	n.Mul(n, big.NewInt(2))
	n.Add(n, big.NewInt(den))
	n.Quo(n, big.NewInt(2*den))
	return Cents(n.Int64())
}

// termText describes the time left for a ledger reason: "2 months and
// 13.5 days", "0 days".
func termText(now, expires time.Time, day int) string {
	whole, num, _ := TermLeft(now, expires, day)
	days := float64(num) / 86400
	d := big.NewFloat(days).Text('f', 1) + " days"
	switch whole {
	case 0:
		return d
	case 1:
		return "1 month and " + d
	}
	return big.NewInt(whole).String() + " months and " + d
}
