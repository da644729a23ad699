package userapi

import "crypto/rsa"

// Hooks for the external tests (package userapi_test, which may import
// testenv; this package may not, testenv serves it).

type Claims = claims

const AccessTTL = accessTTL

func SigningKey(h *Handler) *rsa.PrivateKey { return h.key }
