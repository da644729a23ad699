package engine

// matcher finds which of many literal tokens occur in a string, ignoring
// ASCII case, in one pass (an Aho-Corasick automaton compiled to a DFA over
// byte classes). It is the literal prefilter in front of signature regexes.
type matcher struct {
	class  [256]uint8 // byte -> class; 0 is "no token uses this byte"
	nclass int
	next   []int32   // state*nclass + class -> state
	out    [][]int32 // state -> token ids that end here (with failure links)
}

func newMatcher(tokens []string) *matcher {
	m := &matcher{}
	n := 1
	for _, t := range tokens {
		for i := 0; i < len(t); i++ {
			c := lower(t[i])
			if m.class[c] == 0 {
				m.class[c] = uint8(n)
				if c >= 'a' && c <= 'z' {
					m.class[c-'a'+'A'] = uint8(n)
				}
				n++
			}
		}
	}
	m.nclass = n
	// Build the trie.
	type node struct {
		child map[uint8]int32
		out   []int32
	}
	nodes := []node{{child: map[uint8]int32{}}}
	for id, t := range tokens {
		s := int32(0)
		for i := 0; i < len(t); i++ {
			cl := m.class[lower(t[i])]
			nx, ok := nodes[s].child[cl]
			if !ok {
				nodes = append(nodes, node{child: map[uint8]int32{}})
				nx = int32(len(nodes) - 1)
				nodes[s].child[cl] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, int32(id))
	}
	// Breadth-first: failure links, then full transitions.
	m.next = make([]int32, len(nodes)*n)
	m.out = make([][]int32, len(nodes))
	fail := make([]int32, len(nodes))
	queue := []int32{}
	for cl := 0; cl < n; cl++ {
		if nx, ok := nodes[0].child[uint8(cl)]; ok {
			m.next[cl] = nx
			queue = append(queue, nx)
		}
	}
	m.out[0] = nodes[0].out
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		m.out[s] = append(append([]int32(nil), nodes[s].out...), m.out[fail[s]]...)
		for cl := 0; cl < n; cl++ {
			if nx, ok := nodes[s].child[uint8(cl)]; ok {
				fail[nx] = m.next[int(fail[s])*n+cl]
				m.next[int(s)*n+cl] = nx
				queue = append(queue, nx)
			} else {
				m.next[int(s)*n+cl] = m.next[int(fail[s])*n+cl]
			}
		}
	}
	return m
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// find appends the ids of tokens found in s to dst (up to its capacity) and
// returns it; ids may repeat.
func (m *matcher) find(s string, dst []int32) []int32 {
	state := int32(0)
	n := m.nclass
	for i := 0; i < len(s); i++ {
		state = m.next[int(state)*n+int(m.class[s[i]])]
		if out := m.out[state]; len(out) > 0 {
			for _, id := range out {
				if len(dst) == cap(dst) {
					return dst
				}
				dst = append(dst, id)
			}
		}
	}
	return dst
}
