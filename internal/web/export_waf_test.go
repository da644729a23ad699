package web

// ExclusionFromEvent is exclusionFromEvent, for the external tests.
var ExclusionFromEvent = exclusionFromEvent
