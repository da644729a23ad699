package webbotauth

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Used signatures are remembered, so each verifies once (RFC 9421 section
// 7.2.2), in the same bounded, expiring set of used keys that remembers
// solved browser challenges (challenge.SpentSet): per node in memory
// (challenge.NewMemorySpentCap), or shared by the fleet in Redis
// (challenge.NewRedisSpent with prefix RedisReplayPrefix), which falls back
// to the node's memory while Redis does not answer. The key is the
// signature's keyid with its nonce, or with the signature itself when it
// has none. Only the trusted agents' signatures (Options.Shared) go to the
// shared set; any other signer's go to a node-local set of their own, so
// that signers anyone can be neither evict a trusted agent's entries nor
// cost a Redis round trip per request (their replays are refused per
// node).

// DefaultReplayCap bounds the default in-memory replay set (about 60 bytes
// an entry).
const DefaultReplayCap = 1 << 18

// RedisReplayPrefix is the Redis key prefix of the shared replay set.
const RedisReplayPrefix = "palisade:wba:"

// use records a verified signature of identity until exp, and reports
// whether it was not used before: in the shared set for identities
// Options.Shared names, else in the node's own. A set that cannot be
// consulted answers from the node's memory (RedisSpent), so an error does
// not refuse the signature.
func (v *Verifier) use(identity, key string, exp time.Time) bool {
	set := v.replay
	if v.shared != nil && !v.shared(identity) {
		set = v.others
	}
	h := sha256.Sum256([]byte(key))
	fresh, _ := set.Spend(hex.EncodeToString(h[:16]), exp.Sub(v.now()))
	return fresh
}
