// Package billingtest holds the money-invariant test: thousands of seeded
// random operations through the REST, GP and XML protocols, with commit
// failures injected, checked after every step against charges computed in
// the test from the documented formulas. It has no code of its own.
package billingtest
