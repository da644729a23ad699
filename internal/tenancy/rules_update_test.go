package tenancy_test

// The tenancy rules of updates (issue 22, SMART Patch): POST
// /v1/websites/{domain}/updates and the User API's
// /api/websites/{domain}/updates. The victim's partner (and customer) is
// told why its update is refused (412: no update command on this server,
// its files on sftp); everyone else that the website is not theirs.
func updateRules(rs map[string]rule, add func(key string, r rule)) {
	add("POST /v1/websites/{domain}/updates", rule{class: partnerOwn, kind: kREST,
		build: onVictim(jsonBody("POST", "/v1/websites/{domain}/updates", func(*cell) any { return map[string]string{"type": "plugin", "slug": "example-forms"} }))})
	add("/v1/websites/{domain}/updates", rule{class: public, kind: kNone, build: func(x *cell) req {
		return req{method: "TRACE", path: expand("/v1/websites/{domain}/updates", x.t, nil)}
	}})
}
