package reuselog

// Punch is punch, for the tests' probe of the file system.
var Punch = punch
