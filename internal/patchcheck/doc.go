// Package patchcheck finds the CMS installs in a website's files
// (WordPress, Joomla, Drupal), their versions and those of their plugins,
// themes, extensions and modules, and judges them against a vulnerability
// feed in the OSV format: which are outdated, which advisories affect
// them and how gravely (issue 22, "SMART Patch").
//
// Detect reads through sitefiles.FS, opening only version files, headers
// and manifests, each read bounded. Load, ReadZip, ReadJSON and ReadDir
// read a feed; FeedSource refreshes one over HTTP with conditional
// requests. Check joins the two into a deterministic Report. Updater runs
// an update command after a caller's backup hook. The naming table
// (Names, DefaultNames) says under which OSV package each component is
// filed; docs/SCANNING.md describes the convention.
package patchcheck
