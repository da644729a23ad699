package web

// Messages of the customer pages, by language. English is complete; a
// missing key in another language falls back to English.
var messages = map[string]map[string]string{
	"en": {
		"statistics": "Statistics", "events": "Events", "rules": "Protection rules", "integration": "Integration",
		"signout": "Sign out", "support": "Support", "status": "Status", "plan": "Plan", "until": "Protected until",
		"requests": "Requests", "decision": "Decision", "category": "Category", "reason": "Reason", "client": "Client", "ref": "Reference ID",
		"path": "Path", "time": "Time (UTC)", "useragent": "User agent", "count": "Count", "method": "Method",
		"last24h": "Last 24 hours", "last30d": "Last 30 days", "last12m": "Last 12 months", "period": "Period", "splitby": "Split by",
		"byhour": "By hour", "byday": "By day", "bymonth": "By month",
		"quota": "Requests this month", "of": "of", "topips": "Top blocked clients", "toppaths": "Top blocked paths",
		"topuas": "Top blocked user agents", "topcountries": "Top blocked countries", "none": "None yet.", "nochart": "The chart needs JavaScript; the table below has the same numbers.",
		"notraffic":  "No traffic seen yet. Once your web server asks Palisade about requests, they appear here.",
		"challenges": "Browser challenges", "issued": "issued", "solved": "solved", "failed": "failed", "passrate": "pass rate",
		"filter": "Filter", "from": "From", "to": "To", "action": "Action", "any": "any", "rule": "Rule or category",
		"ip": "IP address", "older": "Older events", "newest": "Newest", "csv": "Download CSV", "live": "Live: new events appear as they happen",
		"detail": "Event", "back": "Back to events", "query": "Query", "referrer": "Referrer", "source": "Decided by", "monitored": "Monitor mode (not enforced)",
		"general": "General", "mode": "Mode", "mode.protect": "Protect", "mode.monitor": "Monitor (decide and record, never block)", "mode.off": "Off",
		"failmode": "When Palisade cannot be reached", "fail.open": "Serve the site (fail open)", "fail.closed": "Refuse requests (fail closed)",
		"difficulty": "Challenge difficulty (8–24 bits)", "lifetime": "Clearance lifetime (e.g. 24h)", "nojs": "Let browsers without JavaScript pass after (seconds, 0 = no)",
		"save": "Save", "saved": "Saved. The change takes effect within a second.", "categories": "Traffic categories",
		"default": "default", "lists": "Allow and deny lists", "allow": "Always allow (one IP or CIDR a line)", "deny": "Always deny (one IP or CIDR a line)",
		"customrules": "Custom rules", "customrules.help": "Tried in order before the categories; the first rule whose conditions all match decides.",
		"name": "Name", "enabled": "Enabled", "conditions": "Conditions", "expression": "Advanced condition (CEL)", "location": "Redirect to",
		"addrule": "Add a rule", "editrule": "Edit rule", "delete": "Delete", "up": "Move up", "down": "Move down", "enable": "Enable", "disable": "Disable", "edit": "Edit",
		"field": "Field", "op": "Match", "value": "Value", "header": "Header name",
		"ratelimits": "Rate limits", "addlimit": "Add a rate limit", "per": "per", "key": "Counted per", "pathprefix": "Path prefix", "burst": "Burst",
		"test": "Test a request", "test.help": "Which rule or category would decide a request like this (rate limits are not evaluated).",
		"test.run": "Test", "result": "Result", "fixerrors": "Nothing was saved; fix the fields marked below.",
		"serverkey": "Server key", "seen": "We have seen traffic from your web server: protection is active.",
		"notseen":     "No traffic seen yet. Install one of the integrations below; this page updates by itself.",
		"guide.nginx": "nginx", "guide.caddy": "Caddy", "guide.traefik": "Traefik", "guide.apache": "Apache httpd", "guide.haproxy": "HAProxy", "guide.go": "Go application", "guide.proxy": "No web server (Palisade as reverse proxy)",
		"rules.none": "No custom rules.", "limits.none": "No rate limits.",
		"conflict":          "Changed elsewhere: reload.",
		"conflict.reload":   "Reload the current settings (discards your input)",
		"conflict.help":     "These settings were changed (in another window, by your hosting provider or through the API) after you opened this page, so nothing was saved. Your input is kept in its form below; the rest of the page shows the current settings. Save again to apply your input over them.",
		"conflict.now":      "Saved now",
		"builtins":          "Not challenged by default",
		"builtins.help":     "Legitimate non-browser traffic Palisade can tell apart safely. These lift a challenge (robots.txt and ACME also a category's deny), never for attack tools or fake crawlers; your custom rules, lists and rate limits still come first.",
		"builtins.switches": "Built-in grants", "builtin.offdefault": "off by default", "builtin.overridesdeny": "also where a category is denied",
		"builtin.reason": "built-in grant",
		"webhooks":       "Webhook endpoints", "webhooks.help": "POSTs to these paths are not challenged: your shop checks each webhook's signature. They still count against your rate limits.",
		"webhooks.custom": "Your own webhook paths (one a line: /path covers everything under it; /path?key=value exactly that query)",
		"apipaths":        "API paths (one a line): requests with an Authorization header there are not challenged",
		"serveraddrs":     "Your server's own addresses (one IP or CIDR a line), besides the web server's own and loopback",
	},
	"de": {
		"statistics": "Statistik", "events": "Ereignisse", "rules": "Schutzregeln", "integration": "Einbindung",
		"signout": "Abmelden", "support": "Hilfe", "status": "Status", "plan": "Paket", "until": "Geschützt bis",
		"requests": "Anfragen", "decision": "Entscheidung", "category": "Kategorie", "reason": "Grund", "client": "Client", "ref": "Referenz-ID",
		"path": "Pfad", "time": "Zeit (UTC)", "useragent": "User-Agent", "count": "Anzahl", "method": "Methode",
		"last24h": "Letzte 24 Stunden", "last30d": "Letzte 30 Tage", "last12m": "Letzte 12 Monate", "period": "Zeitraum", "splitby": "Aufgeteilt nach",
		"byhour": "Stündlich", "byday": "Täglich", "bymonth": "Monatlich",
		"quota": "Anfragen in diesem Monat", "of": "von", "topips": "Am häufigsten blockierte Clients", "toppaths": "Am häufigsten blockierte Pfade",
		"topuas": "Am häufigsten blockierte User-Agents", "topcountries": "Am häufigsten blockierte Länder", "none": "Noch keine.", "nochart": "Das Diagramm braucht JavaScript; die Tabelle unten enthält dieselben Zahlen.",
		"notraffic":  "Noch kein Verkehr. Sobald Ihr Webserver Palisade nach Anfragen fragt, erscheinen sie hier.",
		"challenges": "Browser-Prüfungen", "issued": "gestellt", "solved": "gelöst", "failed": "fehlgeschlagen", "passrate": "Erfolgsquote",
		"filter": "Filtern", "from": "Von", "to": "Bis", "action": "Aktion", "any": "alle", "rule": "Regel oder Kategorie",
		"ip": "IP-Adresse", "older": "Ältere Ereignisse", "newest": "Neueste", "csv": "Als CSV herunterladen", "live": "Live: neue Ereignisse erscheinen sofort",
		"detail": "Ereignis", "back": "Zurück zu den Ereignissen", "query": "Query", "referrer": "Referrer", "source": "Entschieden durch", "monitored": "Beobachtungsmodus (nicht durchgesetzt)",
		"general": "Allgemein", "mode": "Modus", "mode.protect": "Schützen", "mode.monitor": "Beobachten (entscheiden und aufzeichnen, nie blockieren)", "mode.off": "Aus",
		"failmode": "Wenn Palisade nicht erreichbar ist", "fail.open": "Website ausliefern (fail open)", "fail.closed": "Anfragen ablehnen (fail closed)",
		"difficulty": "Schwierigkeit der Prüfung (8–24 Bit)", "lifetime": "Gültigkeit der Freigabe (z. B. 24h)", "nojs": "Browser ohne JavaScript durchlassen nach (Sekunden, 0 = nein)",
		"save": "Speichern", "saved": "Gespeichert. Die Änderung gilt innerhalb einer Sekunde.", "categories": "Verkehrskategorien",
		"default": "Standard", "lists": "Erlaubt- und Sperrlisten", "allow": "Immer erlauben (eine IP oder ein CIDR pro Zeile)", "deny": "Immer sperren (eine IP oder ein CIDR pro Zeile)",
		"customrules": "Eigene Regeln", "customrules.help": "Werden der Reihe nach vor den Kategorien geprüft; die erste Regel, deren Bedingungen alle zutreffen, entscheidet.",
		"name": "Name", "enabled": "Aktiv", "conditions": "Bedingungen", "expression": "Erweiterte Bedingung (CEL)", "location": "Weiterleiten nach",
		"addrule": "Regel hinzufügen", "editrule": "Regel bearbeiten", "delete": "Löschen", "up": "Nach oben", "down": "Nach unten", "enable": "Aktivieren", "disable": "Deaktivieren", "edit": "Bearbeiten",
		"field": "Feld", "op": "Vergleich", "value": "Wert", "header": "Header-Name",
		"ratelimits": "Ratenbegrenzungen", "addlimit": "Ratenbegrenzung hinzufügen", "per": "pro", "key": "Gezählt pro", "pathprefix": "Pfad-Präfix", "burst": "Spitze",
		"test": "Anfrage testen", "test.help": "Welche Regel oder Kategorie über eine solche Anfrage entscheiden würde (Ratenbegrenzungen werden nicht geprüft).",
		"test.run": "Testen", "result": "Ergebnis", "fixerrors": "Nichts wurde gespeichert; korrigieren Sie die markierten Felder.",
		"serverkey": "Server-Schlüssel", "seen": "Wir sehen Verkehr von Ihrem Webserver: der Schutz ist aktiv.",
		"notseen":     "Noch kein Verkehr. Richten Sie eine der Einbindungen unten ein; diese Seite aktualisiert sich selbst.",
		"guide.proxy": "Ohne Webserver (Palisade als Reverse Proxy)", "guide.go": "Go-Anwendung",
		"rules.none": "Keine eigenen Regeln.", "limits.none": "Keine Ratenbegrenzungen.",
		"conflict":          "Anderswo geändert: neu laden.",
		"conflict.reload":   "Aktuelle Einstellungen laden (verwirft Ihre Eingabe)",
		"conflict.help":     "Diese Einstellungen wurden geändert (in einem anderen Fenster, von Ihrem Hoster oder über die API), nachdem Sie diese Seite geöffnet haben; nichts wurde gespeichert. Ihre Eingabe steht weiter unten in ihrem Formular, der Rest der Seite zeigt die aktuellen Einstellungen. Speichern Sie erneut, um Ihre Eingabe darauf anzuwenden.",
		"conflict.now":      "Jetzt gespeichert",
		"builtins":          "Standardmäßig nicht geprüft",
		"builtins.help":     "Legitimer Verkehr ohne Browser, den Palisade sicher erkennt. Diese Freigaben ersetzen eine Prüfung (robots.txt und ACME auch die Sperre einer Kategorie), nie für Angriffswerkzeuge oder gefälschte Crawler; Ihre eigenen Regeln, Listen und Ratenbegrenzungen gelten zuerst.",
		"builtins.switches": "Eingebaute Freigaben", "builtin.offdefault": "standardmäßig aus", "builtin.overridesdeny": "auch bei gesperrter Kategorie",
		"builtin.reason": "eingebaute Freigabe",
		"webhooks":       "Webhook-Endpunkte", "webhooks.help": "POST-Anfragen an diese Pfade werden nicht geprüft: Ihr Shop prüft die Signatur jedes Webhooks. Sie zählen weiter für Ihre Ratenbegrenzungen.",
		"webhooks.custom":          "Eigene Webhook-Pfade (einer pro Zeile: /pfad umfasst alles darunter; /pfad?schlüssel=wert genau diese Query)",
		"apipaths":                 "API-Pfade (einer pro Zeile): Anfragen mit Authorization-Header werden dort nicht geprüft",
		"serveraddrs":              "Eigene Adressen Ihres Servers (eine IP oder ein CIDR pro Zeile), zusätzlich zu der des Webservers und Loopback",
		"builtin.acme_challenge":   "GET /.well-known/acme-challenge/<Token>: Let's Encrypt und andere ACME-Zertifizierungsstellen prüfen ihn vor der Ausstellung des Zertifikats.",
		"builtin.robots_txt":       "GET /robots.txt für jeden Client, auch gesperrte Kategorien: ein Crawler muss sie lesen, um zu erfahren, was er nicht abrufen darf.",
		"builtin.sitemaps":         "GET von Sitemap-Dateien (/sitemap.xml, /sitemap_index.xml, /wp-sitemap-posts-post-1.xml, .xml.gz): für Suchmaschinen und SEO-Werkzeuge.",
		"builtin.favicon":          "GET /favicon.ico und /apple-touch-icon.png: von Feedreadern, Link-Vorschauen und Lesezeichen-Diensten abgerufen.",
		"builtin.well_known":       "GET /.well-known/… (security.txt, App-Links, OpenID-Konfiguration, WebFinger, NodeInfo): Standarddateien für Programme.",
		"builtin.feed_readers":     "GET der Feeds der Website (/feed/, /rss.xml, /atom.xml, ?feed=rss2) durch einen bekannten Feedreader oder jeden Client, der einen Feed-Typ anfragt.",
		"builtin.webhooks":         "POST an die Webhook-Endpunkte, die Sie angeben (oder eine Plattform-Vorlage): die Anwendung prüft die Signatur des Webhooks selbst.",
		"builtin.api_credentials":  "Anfragen mit Authorization-Header an die API-Pfade, die Sie angeben: die API prüft die Zugangsdaten selbst.",
		"builtin.self_calls":       "Der eigene Server der Website ruft sie selbst auf (WordPress-Cron, Loopback-Healthchecks): von Ihren angegebenen Adressen oder der des Webservers.",
		"builtin.pending_crawlers": "Lässt die erste Anfrage eines Crawlers durch, solange seine Reverse-DNS-Prüfung läuft; ein gefälschter bekommt diese erste Anfrage ebenfalls.",
	},
}

// lang returns a supported language for code, English by default.
func lang(code string) string {
	if _, ok := messages[code]; ok {
		return code
	}
	return "en"
}

// tr translates key into l.
func tr(l, key string) string {
	if m, ok := messages[l][key]; ok {
		return m
	}
	if m, ok := messages["en"][key]; ok {
		return m
	}
	return key
}
