// Package tenancy holds the tenancy matrix test: every route of every
// adapter (the patterns the server registers, GP endpoints, XML methods,
// User API routes, the dashboards' pages and actions, the decision
// endpoints) is asked by every kind of principal, against objects of
// another tenant, and each answer must be the one docs/TENANCY.md
// documents. A route without a rule fails the test.
package tenancy
