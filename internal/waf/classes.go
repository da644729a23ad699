package waf

// classOf files a rule id under an attack class by its CRS file
// (942xxx: REQUEST-942-APPLICATION-ATTACK-SQLI), "" when it is none.
func classOf(id int) string {
	if id == ruleBodyError || id == ruleMultipartError || id == RuleArgs {
		return ClassProtocol
	}
	switch id / 1000 {
	case 911, 920, 921, 922:
		return ClassProtocol
	case 913:
		return ClassScanner
	case 930:
		return ClassLFI
	case 931:
		return ClassRFI
	case 932:
		return ClassRCE
	case 933:
		return ClassPHP
	case 934:
		return ClassGeneric
	case 941:
		return ClassXSS
	case 942:
		return ClassSQLi
	case 943:
		return ClassSession
	case 944:
		return ClassJava
	}
	return ""
}

// classPriority orders the classes for a tie: the more specific and the
// more dangerous first (";cat /etc/passwd" in a parameter matches an LFI
// and an RCE rule, equally critical: it is an RCE).
var classPriority = []string{ClassRCE, ClassSQLi, ClassJava, ClassPHP, ClassRFI, ClassLFI, ClassXSS, ClassGeneric, ClassSession, ClassScanner, ClassProtocol}

// classScores picks a request's attack class from its matches: the class
// of the most severe match; when several classes have one that severe, the
// one with the most points in all, then classPriority.
type classScores struct {
	top    [16]int // highest points of one match, by classPriority index
	sum    [16]int
	seen   bool
	maxTop int
}

func classIndex(c string) int {
	for i, p := range classPriority {
		if p == c {
			return i
		}
	}
	return -1
}

func (cs *classScores) add(class string, points int) {
	i := classIndex(class)
	if i < 0 {
		return
	}
	cs.seen = true
	cs.sum[i] += points
	if points > cs.top[i] {
		cs.top[i] = points
	}
	if points > cs.maxTop {
		cs.maxTop = points
	}
}

func (cs *classScores) best() string {
	if !cs.seen {
		return ""
	}
	bi := -1
	for i := range classPriority {
		if cs.top[i] != cs.maxTop {
			continue
		}
		if bi < 0 || cs.sum[i] > cs.sum[bi] {
			bi = i
		}
	}
	return classPriority[bi]
}
