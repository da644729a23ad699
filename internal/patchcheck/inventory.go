package patchcheck

// CMS names a content management system the patch check recognises.
type CMS string

const (
	WordPress CMS = "wordpress"
	Joomla    CMS = "joomla"
	Drupal    CMS = "drupal"
)

// ComponentType is the kind of a component.
type ComponentType string

const (
	TypeCore      ComponentType = "core"      // the CMS itself
	TypePlugin    ComponentType = "plugin"    // WordPress wp-content/plugins
	TypeMUPlugin  ComponentType = "mu-plugin" // WordPress wp-content/mu-plugins
	TypeTheme     ComponentType = "theme"     // WordPress or Drupal theme
	TypeExtension ComponentType = "extension" // Joomla component (com_*)
	TypeModule    ComponentType = "module"    // Drupal module
	TypeProfile   ComponentType = "profile"   // Drupal installation profile
)

// Component is one versioned piece of an install: the core, or a plugin,
// theme, extension or module.
type Component struct {
	Type    ComponentType `json:"type"`
	Slug    string        `json:"slug"`    // directory or project name: "akismet", "com_akeeba", "pathauto"
	Name    string        `json:"name"`    // the name its header or manifest gives
	Version string        `json:"version"` // as written; "" when none was found
	Path    string        `json:"path"`    // the file the version came from, relative to the site's root
}

// Install is one CMS installation found in a website's files.
type Install struct {
	CMS        CMS         `json:"cms"`
	Root       string      `json:"root"` // "" for the website's root, else a slash-separated folder
	Core       Component   `json:"core"`
	Components []Component `json:"components"` // sorted by type, then slug
}

// Inventory is what Detect found.
type Inventory struct {
	Installs []Install `json:"installs"` // sorted by root
	// Truncated is set when a bound stopped the search (files walked,
	// installs, components); Notes say which. What was found is kept.
	Truncated bool     `json:"truncated,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}
