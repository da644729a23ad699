package core

import "testing"

func TestSummarizeChallenges(t *testing.T) {
	pts := []StatPoint{
		{Action: "challenge", Category: "automation_tools", Count: 6},
		{Action: "captcha", Category: "custom_rules", Count: 2},
		{Action: "deny", Category: "security_issues", Count: 50},
		{Action: "solved", Category: "challenge", Count: 3},
		{Action: "failed", Category: "challenge", Count: 1},
	}
	got := SummarizeChallenges(pts)
	if want := (ChallengeStats{Issued: 8, Solved: 3, Failed: 1, PassRate: 0.375}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := SummarizeChallenges(nil); got != (ChallengeStats{}) {
		t.Fatalf("no traffic: %+v", got)
	}
	// More solves than challenged requests (a challenge from an earlier
	// period solved in this one) caps at 1.
	if got := SummarizeChallenges([]StatPoint{{Action: "challenge", Category: "humans", Count: 1}, {Action: "solved", Category: "challenge", Count: 2}}); got.PassRate != 1 {
		t.Fatalf("capped: %+v", got)
	}
}
