package waf

// The ready exclusion sets: Palisade's own, written from what the Core
// Rule Set (v4, paranoia level 1, threshold 5) matches in the ordinary
// requests of each application (testdata/admin_corpus; sets_test.go
// proves every one passes with its set and that the sets are needed).
//
// Rules the sets follow:
//   - an exclusion names the rules (by id, or by attack tag for HTML
//     editors, whose content may hold any markup), the narrowest path and
//     the parameters that carry the content; never a whole attack class
//     everywhere;
//   - an admin or editor exclusion is conditioned on the application's
//     signed-in cookie. A cookie name is no proof of sign-in (anyone can
//     send one), so the path and the parameters are the real limit: an
//     attack in any other parameter, header or the path still counts;
//   - exclusions without a cookie cover only what an application's
//     clients send without one (WebDAV methods and file bodies, REST
//     clients with API keys), on the application's own paths.

// xssInEditors: the rules an HTML editor's content matches. Editors save
// markup (tags, attributes, iframes of embeds, inline styles, HTML
// comments of the block editor), which is every XSS rule's business;
// the RCE rules are the command-separator ones that prose with "&" or
// ";" and quoted attribute values trips.
var (
	editorTags     = []string{"attack-xss"}
	editorRCERules = []int{932230, 932235, 932250, 932260, 932370, 932380}
)

const (
	cookieWordPress  = "wordpress_logged_in_"
	cookieJoomlaSite = "joomla_user_state"
	cookieDrupalTLS  = "SSESS"
	cookieDrupal     = "SESS"
	cookiePMA        = "pmaAuth-"
)

// Sets lists the ready exclusion sets.
func Sets() []ExclusionSet {
	return []ExclusionSet{
		{
			Name:  "wordpress",
			Title: "WordPress",
			Description: "The block editor, classic editor, widgets and Customizer of signed-in WordPress users " +
				"(the wordpress_logged_in_ cookie): their HTML content is not read as cross-site scripting. " +
				"Nothing changes for visitors without that cookie.",
			Default: true,
			Exclusions: []Exclusion{
				{
					Path:       "/wp-json/wp/v2/",
					Tags:       editorTags,
					RuleIDs:    editorRCERules,
					Parameters: []string{"json.content", "json.excerpt", "json.title", "json.description", "json.instance.raw.*"},
					Cookie:     cookieWordPress,
					Note:       "block editor: posts, pages, reusable blocks, templates and block widgets saved through the REST API",
				},
				{
					// 920450 matches every header name and then checks
					// the list, so a parameter cannot narrow it.
					Path:    "/wp-json/wp/v2/",
					RuleIDs: []int{920450},
					Cookie:  cookieWordPress,
					Note:    "block editor: apiFetch sends PUT and DELETE as POST with X-HTTP-Method-Override",
				},
				{
					Path:       "/wp-admin/post.php",
					Tags:       editorTags,
					RuleIDs:    editorRCERules,
					Parameters: []string{"content", "excerpt", "post_title"},
					Cookie:     cookieWordPress,
					Note:       "classic editor: the post form's HTML content",
				},
				{
					Path:    "/wp-admin/admin-ajax.php",
					Tags:    editorTags,
					RuleIDs: editorRCERules,
					Parameters: []string{"data[wp_autosave][content]", "data[wp_autosave][excerpt]", "data[wp_autosave][post_title]",
						"customize_changeset_data", "widget-text[*", "widget-custom_html[*"},
					Cookie: cookieWordPress,
					Note:   "classic editor autosave (heartbeat), Customizer changesets (Additional CSS), classic Text and Custom HTML widgets",
				},
			},
		},
		{
			Name:  "woocommerce",
			Title: "WooCommerce",
			Description: "Product descriptions saved by signed-in shop managers or written by API clients (ERP, PIM, " +
				"marketplace integrations) to /wp-json/wc/v3/products, and the REST API's PUT, PATCH and DELETE under /wp-json/wc/.",
			Default: true,
			Exclusions: []Exclusion{
				{
					Path:    "/wp-json/wc/",
					RuleIDs: []int{911100},
					Note:    "REST API clients (consumer key, no cookie) update with PUT and PATCH and delete with DELETE",
				},
				{
					// API clients authenticate with a consumer key, not a
					// cookie; WooCommerce refuses product writes without
					// one, so the fields are the limit.
					Path:       "/wp-json/wc/v3/products",
					Tags:       editorTags,
					Parameters: []string{"json.description", "json.short_description"},
					Note:       "product descriptions (HTML) written by PIM, ERP and marketplace sync clients",
				},
				{
					Path:       "/wp-admin/post.php",
					Tags:       editorTags,
					RuleIDs:    editorRCERules,
					Parameters: []string{"content", "excerpt", "_purchase_note"},
					Cookie:     cookieWordPress,
					Note:       "product editor: description, short description and purchase note",
				},
			},
		},
		{
			Name:  "joomla",
			Title: "Joomla",
			Description: "Articles, modules and categories edited in Joomla's administrator (/administrator/) and articles " +
				"edited on the site by signed-in authors: their HTML is not read as cross-site scripting.",
			Exclusions: []Exclusion{
				{
					// Joomla names the administrator's session cookie with
					// a per-site hash and sets joomla_user_state only for
					// the site's own sign-in: nothing marks an
					// administrator session by name, so the path and the
					// fields are the limit.
					Path:    "/administrator/index.php",
					Tags:    editorTags,
					RuleIDs: editorRCERules,
					Parameters: []string{"jform[articletext]", "jform[introtext]", "jform[fulltext]", "jform[content]",
						"jform[description]"},
					Note: "administrator: article text, module content, category description",
				},
				{
					Path:       "/index.php",
					Tags:       editorTags,
					RuleIDs:    editorRCERules,
					Parameters: []string{"jform[articletext]"},
					Cookie:     cookieJoomlaSite,
					Note:       "front-end editing by a signed-in author",
				},
			},
		},
		{
			Name:  "drupal",
			Title: "Drupal",
			Description: "Nodes, blocks and comments edited by signed-in Drupal users (the SSESS/SESS session cookie): " +
				"the body's HTML is not read as cross-site scripting.",
			Exclusions: drupalExclusions(),
		},
		{
			Name:  "nextcloud",
			Title: "Nextcloud",
			Description: "Nextcloud's WebDAV: the desktop, mobile and web clients' methods (PROPFIND, PUT, MOVE, ...), " +
				"and uploaded files' contents, which are data, not parameters.",
			Exclusions: []Exclusion{
				{
					Path:    "/remote.php/dav/",
					RuleIDs: []int{911100, 920420},
					Note:    "WebDAV methods and application/octet-stream uploads",
				},
				{
					Path:    "/remote.php/webdav/",
					RuleIDs: []int{911100, 920420},
					Note:    "the legacy WebDAV endpoint",
				},
				{
					Path:    "/public.php/dav/",
					RuleIDs: []int{911100, 920420},
					Note:    "public shares (upload to a file drop)",
				},
				{
					Path:       "/remote.php/dav/files/",
					Parameters: []string{"*"},
					Note:       "file contents uploaded with PUT (a raw body CRS parses as form fields)",
				},
				{
					Path:       "/remote.php/dav/uploads/",
					Parameters: []string{"*"},
					Note:       "chunks of chunked uploads",
				},
				{
					Path:    "/remote.php/dav/files/",
					RuleIDs: []int{920440},
					Note:    "users' files may have any extension (.sql, .bak, .config)",
				},
			},
		},
		{
			Name:  "phpmyadmin",
			Title: "phpMyAdmin",
			Description: "SQL typed into phpMyAdmin by a signed-in user (the pmaAuth- cookie of cookie authentication) " +
				"is phpMyAdmin's job, not SQL injection.",
			Exclusions: []Exclusion{
				{
					Path:       "/phpmyadmin/index.php",
					Tags:       []string{"attack-sqli"},
					RuleIDs:    editorRCERules,
					Parameters: []string{"sql_query", "prev_sql_query", "where_clause[*"},
					Cookie:     cookiePMA,
					Note:       "the SQL tab, browsing and row editing",
				},
			},
		},
	}
}

// drupalExclusions are the Drupal set's entries, once per session cookie
// prefix (SSESS over HTTPS, SESS over HTTP).
func drupalExclusions() []Exclusion {
	var out []Exclusion
	for _, c := range []string{cookieDrupalTLS, cookieDrupal} {
		out = append(out,
			Exclusion{
				Path:       "/node/",
				Tags:       editorTags,
				RuleIDs:    editorRCERules,
				Parameters: []string{"body[0][value]", "body[0][summary]"},
				Cookie:     c,
				Note:       "node add and edit forms: the body field",
			},
			Exclusion{
				Path:       "/block/",
				Tags:       editorTags,
				RuleIDs:    editorRCERules,
				Parameters: []string{"body[0][value]"},
				Cookie:     c,
				Note:       "custom block content",
			},
			Exclusion{
				Path:       "/admin/content/block/",
				Tags:       editorTags,
				RuleIDs:    editorRCERules,
				Parameters: []string{"body[0][value]"},
				Cookie:     c,
				Note:       "custom block content (Drupal 10.1 and later)",
			},
		)
	}
	return out
}
