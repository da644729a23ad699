package xmlapi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxBody bounds a request document.
const MaxBody = 64 << 10

// Request is a parsed request document. The method comes in one of two
// shapes: named by <methodName> with its parameters beside it, or as a
// wrapper element holding its parameters (<getStatus><domain>…</domain>
// </getStatus>), as SiteLock's own documentation writes every request.
// Fields a method does not use, and unknown elements, are ignored.
type Request struct {
	Auth struct {
		User     string
		Password string
	}
	// Method is the method, by Palisade's name (freeScan for scanDomain).
	Method string
	// Name is the method's name as the request spelled it: the answer's
	// element has this name.
	Name string
	// Wrapped is true when the method came as a wrapper element; the
	// answer then has no <methodName>, as SiteLock's answers.
	Wrapped bool
	Params
}

// Params are a method's parameters: the elements beside <methodName>, or
// the children of the wrapper element.
type Params struct {
	Account *Account `xml:"account"`
	Site    *Site    `xml:"site"`
	// SiteLock's names for <account> and <site>.
	AccountInformation *Account `xml:"accountInformation"`
	SiteInformation    *Site    `xml:"siteInformation"`

	AccountID    string `xml:"account_id"`
	SiteID       string `xml:"site_id"`
	Login        string `xml:"login"`
	Domain       string `xml:"domain"`
	Email        string `xml:"email"`
	Subscription string `xml:"subscription"`
	RenewalDate  string `xml:"renewal_date"`
	Status       string `xml:"status"`
	Password     string `xml:"password"`
	Limit        string `xml:"limit"`
	Offset       string `xml:"offset"`
	Before       string `xml:"before"`
	After        string `xml:"after"`
	QueueID      string `xml:"queue_id"`
	Addon        string `xml:"addon"`
	AddonID      string `xml:"addon_id"`
	Quantity     string `xml:"quantity"`
	// setWafSettings: the website firewall's settings (TrueShield's
	// configuration).
	Mode          string         `xml:"mode"`
	Paranoia      string         `xml:"paranoia"`
	Threshold     string         `xml:"threshold"`
	ExclusionSets *ExclusionSets `xml:"exclusion_sets"`
	// The scan and backup methods (scanning.go): the settings of SMART,
	// SMART Patch, SMART Database and Backup (Password above is also the
	// file source's and the database's), a scan's kind, the findings'
	// state, and a restore's snapshot, path and database.
	Enabled            string `xml:"enabled"`
	EveryHours         string `xml:"every_hours"`
	AutoClean          string `xml:"auto_clean"`
	Source             string `xml:"source"`
	Path               string `xml:"path"`
	Host               string `xml:"host"`
	Port               string `xml:"port"`
	User               string `xml:"user"`
	HostKey            string `xml:"host_key"`
	Agent              string `xml:"agent"`
	PrivateKey         string `xml:"private_key"`
	Name               string `xml:"name"`
	TablePrefix        string `xml:"table_prefix"`
	Clean              string `xml:"clean"`
	Repository         string `xml:"repository"`
	RepositoryPassword string `xml:"repository_password"`
	RepositoryKey      string `xml:"repository_private_key"`
	RepositoryHostKey  string `xml:"repository_host_key"`
	S3AccessKeyID      string `xml:"s3_access_key_id"`
	S3SecretKey        string `xml:"s3_secret_key"`
	KeepDaily          string `xml:"keep_daily"`
	KeepWeekly         string `xml:"keep_weekly"`
	KeepMonthly        string `xml:"keep_monthly"`
	Kind               string `xml:"kind"`
	State              string `xml:"state"`
	Snapshot           string `xml:"snapshot"`
	Database           string `xml:"database"`
}

// ExclusionSets are setWafSettings' switches of the firewall's ready
// exclusion sets, one element per set named after it:
// <exclusion_sets><wordpress>on</wordpress><joomla>off</joomla></exclusion_sets>.
type ExclusionSets struct {
	Sets []ExclusionSetting `xml:",any"`
}

// ExclusionSetting is one set's switch: on, off or default.
type ExclusionSetting struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// Account is provisionAccount's account information; the other methods
// also read the account they are about from it (SiteLock's
// <accountInformation><id>…</id></accountInformation>).
type Account struct {
	AccountID string `xml:"account_id"`
	ID        string `xml:"id"`
	Email     string `xml:"email"`
	FirstName string `xml:"first_name"`
	LastName  string `xml:"last_name"`
	// Name is SiteLock's full name, split into first and last name when
	// those are not given.
	Name     string `xml:"name"`
	Company  string `xml:"company"`
	Country  string `xml:"country"`
	Address  string `xml:"address"`
	Address1 string `xml:"address1"`
	Lang     string `xml:"lang"`
	Password string `xml:"password"`
	Login    string `xml:"login"`
	Domain   string `xml:"domain"`
	SiteID   string `xml:"site_id"`
}

// Site is provisionAccount's site information; the other methods also
// read the site they are about from it (SiteLock's
// <siteInformation><id>…</id></siteInformation>).
type Site struct {
	ID           string `xml:"id"`
	SiteID       string `xml:"site_id"`
	Domain       string `xml:"domain"`
	Subscription string `xml:"subscription"`
	RenewalDate  string `xml:"renewal_date"`
	Status       string `xml:"status"`
}

// Methods lists the methods, in documentation order.
var Methods = []string{"provisionAccount", "modifyAccount", "deleteAccount", "createToken", "getAccounts", "getStatus",
	"getPendingEmails", "markEmailSent", "passwordReset", "provisionAddon", "modifyAddon", "deleteAddon", "getIpAddresses", "freeScan",
	"getWafSettings", "setWafSettings",
	"getSmartSettings", "setSmartSettings", "getSmartPatchSettings", "setSmartPatchSettings", "getSmartDatabaseSettings", "setSmartDatabaseSettings",
	"getBackupSettings", "setBackupSettings", "startScan", "getScanResults", "getBackups", "restoreBackup"}

// aliases are other names clients send for a method: SiteLock's.
var aliases = map[string]string{"scanDomain": "freeScan"}

// method is the method a name stands for, or "".
func method(name string) string {
	if m, ok := aliases[name]; ok {
		return m
	}
	for _, m := range Methods {
		if m == name {
			return m
		}
	}
	return ""
}

// document is what the decoder reads: the authentication, methodName, the
// parameters beside it, and everything else.
type document struct {
	XMLName xml.Name `xml:"SiteLockOnlineRequest"`
	Auth    struct {
		User     string `xml:"user"`
		Username string `xml:"username"`
		Password string `xml:"password"`
	} `xml:"authentication"`
	MethodName []string `xml:"methodName"`
	Params
	Other others `xml:",any"`
}

// others collects the root's other children: wrapper elements (named
// after a method) with their parameters, and the names of a few unknown
// ones, which are otherwise skipped without keeping anything.
type others struct {
	wrappers []wrapper
	unknown  []string
}

type wrapper struct {
	name string
	Params
}

func (o *others) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	name := start.Name.Local
	if method(name) != "" {
		if len(o.wrappers) < 2 {
			w := wrapper{name: name}
			if err := d.DecodeElement(&w.Params, &start); err != nil {
				return err
			}
			o.wrappers = append(o.wrappers, w)
			return nil
		}
	} else if len(o.unknown) < 2 {
		o.unknown = append(o.unknown, name)
	}
	return d.Skip()
}

// Accepted says which encodings are read, for error messages.
const accepted = "send UTF-8 (or ISO-8859-1, UTF-16)"

// Parse reads a request document: at most MaxBody bytes, no DTD (so no
// entities of any kind), one SiteLockOnlineRequest element. contentType is
// the request's Content-Type header: only its charset is read.
//
// Encodings: UTF-8 (a byte-order mark is skipped), US-ASCII, ISO-8859-1
// and UTF-16 (with a byte-order mark, or recognised by its first
// character). The encoding the document's XML declaration names decides;
// without one, the Content-Type's charset; without either, UTF-8. A
// document that declares UTF-16 but is written with one byte per
// character (as .NET's StringWriter makes them) is read as UTF-8. Any
// other encoding is refused with a message that names it.
func Parse(r io.Reader, contentType string) (*Request, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return nil, errors.New("the request could not be read")
	}
	if len(b) > MaxBody {
		return nil, errors.New("the request is larger than 64 KiB")
	}
	b, wide := fromUTF16(b)
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	if !wide && declaredEncoding(b) == "" {
		if _, params, err := mime.ParseMediaType(contentType); err == nil && params["charset"] != "" {
			switch charset := params["charset"]; encoding(charset) {
			case "utf-8":
			case "latin1":
				b = fromLatin1(b)
			default:
				return nil, errors.New("the Content-Type's charset " + charset + " is not accepted: " + accepted)
			}
		}
	}
	if bytes.Contains(b, []byte("<!DOCTYPE")) || bytes.Contains(b, []byte("<!ENTITY")) {
		return nil, errors.New("document type declarations and entities are not accepted")
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if wide {
			// Already decoded from UTF-16.
			return in, nil
		}
		switch encoding(label) {
		case "utf-8":
			return in, nil
		case "latin1":
			all, err := io.ReadAll(in)
			return bytes.NewReader(fromLatin1(all)), err
		}
		return nil, errors.New("the document's encoding " + label + " is not accepted: " + accepted)
	}
	var doc document
	if err := dec.Decode(&doc); err != nil {
		var se *xml.SyntaxError
		switch {
		case errors.As(err, &se) && se.Msg == "invalid UTF-8":
			return nil, errors.New("the document is not UTF-8 (line " + strconv.Itoa(se.Line) + "): send UTF-8, or declare its encoding (<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>)")
		case errors.As(err, &se):
			return nil, errors.New("malformed XML at line " + strconv.Itoa(se.Line) + ": " + se.Msg)
		case strings.Contains(err.Error(), "expected element type"):
			return nil, errors.New("the document must be a <SiteLockOnlineRequest>")
		case strings.Contains(err.Error(), " is not accepted: "):
			return nil, errors.New(err.Error()[strings.Index(err.Error(), "the document's encoding"):])
		}
		return nil, errors.New("malformed XML: " + err.Error())
	}
	return doc.request()
}

// request picks the method and its parameters, refusing a document that
// names two methods (or one twice), or puts a wrapper's parameters
// outside it.
func (doc *document) request() (*Request, error) {
	req := &Request{}
	req.Auth.User, req.Auth.Password = doc.Auth.User, doc.Auth.Password
	if req.Auth.User == "" {
		req.Auth.User = doc.Auth.Username
	}
	var named []string
	for _, m := range doc.MethodName {
		if m = strings.TrimSpace(m); m != "" {
			named = append(named, m)
		}
	}
	ws := doc.Other.wrappers
	switch {
	case len(named) > 1:
		return nil, errors.New("one method per request: found <methodName> twice")
	case len(named) == 1 && len(ws) > 0:
		return nil, errors.New("give the method either as <methodName> or as a wrapper element (<" + ws[0].name + ">), not both")
	case len(ws) > 1:
		return nil, errors.New("one method per request: found <" + ws[0].name + "> and <" + ws[1].name + ">")
	case len(named) == 1:
		req.Name, req.Params = named[0], doc.Params
		req.Method = method(req.Name)
		if req.Method == "" {
			// An unknown method keeps its name for the answer.
			req.Method = req.Name
		}
	case len(ws) == 1:
		if outside := doc.Params.set(); outside != "" {
			return nil, errors.New("the parameters of <" + ws[0].name + "> go inside it; found <" + outside + "> outside")
		}
		req.Name, req.Method, req.Wrapped, req.Params = ws[0].name, method(ws[0].name), true, ws[0].Params
	default:
		msg := "the method is missing: send <methodName>NAME</methodName> or wrap the parameters in <NAME>…</NAME>; "
		if len(doc.Other.unknown) > 0 {
			msg += "<" + doc.Other.unknown[0] + "> is not a method; "
		}
		return req, missingMethod(msg + "NAME is one of " + strings.Join(Methods, ", "))
	}
	req.Params.normalize(req.Method)
	return req, nil
}

// missingMethod is Parse's error for a document without a method.
type missingMethod string

func (e missingMethod) Error() string { return string(e) }

// set names one parameter that is set, or "".
func (p *Params) set() string {
	switch {
	case p.Account != nil:
		return "account"
	case p.Site != nil:
		return "site"
	case p.AccountInformation != nil:
		return "accountInformation"
	case p.SiteInformation != nil:
		return "siteInformation"
	case p.ExclusionSets != nil:
		return "exclusion_sets"
	}
	for _, f := range []struct{ name, v string }{{"account_id", p.AccountID}, {"site_id", p.SiteID}, {"login", p.Login}, {"domain", p.Domain},
		{"email", p.Email}, {"subscription", p.Subscription}, {"renewal_date", p.RenewalDate}, {"status", p.Status}, {"password", p.Password},
		{"limit", p.Limit}, {"offset", p.Offset}, {"before", p.Before}, {"after", p.After}, {"queue_id", p.QueueID}, {"addon", p.Addon},
		{"addon_id", p.AddonID}, {"quantity", p.Quantity}, {"mode", p.Mode}, {"paranoia", p.Paranoia}, {"threshold", p.Threshold},
		{"enabled", p.Enabled}, {"every_hours", p.EveryHours}, {"auto_clean", p.AutoClean}, {"source", p.Source}, {"path", p.Path}, {"host", p.Host},
		{"port", p.Port}, {"user", p.User}, {"host_key", p.HostKey}, {"agent", p.Agent}, {"private_key", p.PrivateKey}, {"name", p.Name}, {"table_prefix", p.TablePrefix},
		{"clean", p.Clean}, {"repository", p.Repository}, {"repository_password", p.RepositoryPassword}, {"repository_private_key", p.RepositoryKey}, {"repository_host_key", p.RepositoryHostKey}, {"s3_access_key_id", p.S3AccessKeyID},
		{"s3_secret_key", p.S3SecretKey}, {"keep_daily", p.KeepDaily}, {"keep_weekly", p.KeepWeekly}, {"keep_monthly", p.KeepMonthly},
		{"kind", p.Kind}, {"state", p.State}, {"snapshot", p.Snapshot}, {"database", p.Database}} {
		if f.v != "" {
			return f.name
		}
	}
	return ""
}

// normalize reads SiteLock's element names as Palisade's: accountInformation
// and siteInformation as account and site, id inside them as account_id and
// site_id, name as first and last name. For methods other than
// provisionAccount, the account and site blocks name what the method is
// about, so their fields fill the parameters not given directly.
func (p *Params) normalize(method string) {
	if p.Account == nil {
		p.Account = p.AccountInformation
	}
	if p.Site == nil {
		p.Site = p.SiteInformation
	}
	if a := p.Account; a != nil {
		a.AccountID = first(a.AccountID, a.ID)
		a.Address = first(a.Address, a.Address1)
		if a.FirstName == "" && a.LastName == "" && strings.TrimSpace(a.Name) != "" {
			n := strings.Fields(a.Name)
			a.FirstName, a.LastName = strings.Join(n[:max(1, len(n)-1)], " "), strings.Join(n[max(1, len(n)-1):], " ")
		}
	}
	if s := p.Site; s != nil {
		s.SiteID = first(s.SiteID, s.ID)
	}
	if method == "provisionAccount" {
		return
	}
	if a := p.Account; a != nil {
		p.AccountID, p.Login, p.Domain = first(p.AccountID, a.AccountID), first(p.Login, a.Login), first(p.Domain, a.Domain)
		p.SiteID, p.Email, p.Password = first(p.SiteID, a.SiteID), first(p.Email, a.Email), first(p.Password, a.Password)
	}
	if s := p.Site; s != nil {
		p.SiteID, p.Domain, p.Subscription = first(p.SiteID, s.SiteID), first(p.Domain, s.Domain), first(p.Subscription, s.Subscription)
		p.RenewalDate, p.Status = first(p.RenewalDate, s.RenewalDate), first(p.Status, s.Status)
	}
}

func first(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// encoding is the family of a charset label: "utf-8" (also US-ASCII,
// and UTF-16, whose documents fromUTF16 has decoded already or which are
// really one byte per character), "latin1", or "" (not accepted).
func encoding(label string) string {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii", "utf-16", "utf-16le", "utf-16be", "utf16":
		return "utf-8"
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "iso-ir-100", "cp819", "ibm819":
		return "latin1"
	}
	return ""
}

var declEncoding = regexp.MustCompile(`^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([^"']*)["']`)

// declaredEncoding is the encoding the XML declaration at the start of b
// names, or "".
func declaredEncoding(b []byte) string {
	m := declEncoding.FindSubmatch(b[:min(len(b), 256)])
	if m == nil {
		return ""
	}
	return string(m[1])
}

// fromUTF16 decodes a UTF-16 document (a byte-order mark, or "<" as its
// first character) to UTF-8, and says whether it did.
func fromUTF16(b []byte) ([]byte, bool) {
	var be bool
	switch {
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		b, be = b[2:], true
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		b = b[2:]
	case bytes.HasPrefix(b, []byte{0, '<'}):
		be = true
	case bytes.HasPrefix(b, []byte{'<', 0}):
	default:
		return b, false
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if be {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	out := make([]byte, 0, len(b))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return out, true
}

// fromLatin1 decodes ISO-8859-1 to UTF-8.
func fromLatin1(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}
