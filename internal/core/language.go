package core

import "strings"

// DefaultLanguage is a partner's default language until it or the
// operator sets another (Partner.DefaultLang): the language a customer
// account gets when none is given or the one given is not known.
const DefaultLanguage = "en"

// parsePartnerLanguage reads a partner's default language for field.
func parsePartnerLanguage(field, s string) (string, error) {
	code, ok := ParseLanguage(s)
	if !ok {
		return "", FieldError(field, "%s: %q is not a language Palisade knows; send an ISO 639-1 code such as de, a locale such as pt_BR, or an English name such as german", field, clip(strings.TrimSpace(s), 64))
	}
	return code, nil
}

// ParseLanguage reads a language as provisioning clients send it and
// returns its ISO 639-1 code. It accepts, case-insensitively:
//
//   - an ISO 639-1 code: "en", "DE";
//   - a locale or language tag, whose first part is the code: "en_US",
//     "pt-BR", "zh-Hans-CN";
//   - an English language name, including the names of WHMCS's language
//     files, which WHMCS-based modules send lower-cased: "english",
//     "russian", "portuguese-br", "ukranian" (WHMCS's spelling), "farsi".
//
// ok is false for anything else (and for ""), and code is then "". Every
// protocol reads languages through this one function.
func ParseLanguage(s string) (code string, ok bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > 64 {
		return "", false
	}
	if c, ok := languageNames[s]; ok {
		return c, true
	}
	// "portuguese_br", "Portuguese (Brazil)", "chinese simplified".
	norm := strings.Map(func(r rune) rune {
		switch r {
		case '_', ' ':
			return '-'
		case '(', ')':
			return -1
		}
		return r
	}, s)
	if c, ok := languageNames[norm]; ok {
		return c, true
	}
	// A language tag or locale: the primary subtag is the language.
	primary, _, _ := strings.Cut(norm, "-")
	if iso6391[primary] {
		return primary, true
	}
	if c, ok := iso6392[primary]; ok {
		return c, true
	}
	if c, ok := languageNames[primary]; ok {
		return c, true
	}
	return "", false
}

// iso6391 holds the ISO 639-1 codes.
var iso6391 = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy
		da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu
		ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn
		no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti
		tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu`) {
		m[c] = true
	}
	return m
}()

// iso6392 maps the ISO 639-2 (and 639-3) codes of common languages, which
// some panels send, to ISO 639-1.
var iso6392 = map[string]string{
	"ara": "ar", "aze": "az", "bul": "bg", "cat": "ca", "ces": "cs", "cze": "cs", "chi": "zh", "zho": "zh", "dan": "da",
	"deu": "de", "ger": "de", "dut": "nl", "nld": "nl", "ell": "el", "gre": "el", "eng": "en", "est": "et", "fas": "fa",
	"per": "fa", "fin": "fi", "fra": "fr", "fre": "fr", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "ind": "id",
	"ita": "it", "jpn": "ja", "kor": "ko", "lav": "lv", "lit": "lt", "mac": "mk", "mkd": "mk", "nor": "no", "nob": "nb",
	"pol": "pl", "por": "pt", "ron": "ro", "rum": "ro", "rus": "ru", "slk": "sk", "slo": "sk", "slv": "sl", "spa": "es",
	"srp": "sr", "swe": "sv", "tha": "th", "tur": "tr", "ukr": "uk", "vie": "vi",
}

// languageNames maps English language names, lower-cased, to ISO 639-1.
// The first group is every language file WHMCS ships (lang/<name>.php),
// which is what WHMCS-based modules send.
var languageNames = map[string]string{
	// WHMCS's language files.
	"arabic": "ar", "azerbaijani": "az", "catalan": "ca", "chinese": "zh", "croatian": "hr", "czech": "cs",
	"danish": "da", "dutch": "nl", "english": "en", "estonian": "et", "farsi": "fa", "french": "fr",
	"german": "de", "hebrew": "he", "hungarian": "hu", "italian": "it", "macedonian": "mk", "norwegian": "no",
	"portuguese-br": "pt", "portuguese-pt": "pt", "romanian": "ro", "russian": "ru", "spanish": "es",
	"swedish": "sv", "turkish": "tr", "ukranian": "uk",
	// Other spellings and languages panels name.
	"ukrainian": "uk", "persian": "fa", "portuguese": "pt", "brazilian": "pt", "brazilian-portuguese": "pt",
	"chinese-simplified": "zh", "chinese-traditional": "zh", "simplified-chinese": "zh", "traditional-chinese": "zh",
	"mandarin": "zh", "cantonese": "zh", "american": "en", "british": "en", "english-us": "en", "english-gb": "en",
	"albanian": "sq", "armenian": "hy", "basque": "eu", "belarusian": "be", "bengali": "bn", "bosnian": "bs",
	"bulgarian": "bg", "finnish": "fi", "galician": "gl", "georgian": "ka", "greek": "el", "hindi": "hi",
	"icelandic": "is", "indonesian": "id", "irish": "ga", "japanese": "ja", "kazakh": "kk", "korean": "ko",
	"latvian": "lv", "lithuanian": "lt", "malay": "ms", "maltese": "mt", "mongolian": "mn", "norwegian-bokmal": "nb",
	"bokmal": "nb", "nynorsk": "nn", "polish": "pl", "serbian": "sr", "slovak": "sk", "slovenian": "sl",
	"slovene": "sl", "swahili": "sw", "tagalog": "tl", "filipino": "tl", "thai": "th", "urdu": "ur", "uzbek": "uz",
	"vietnamese": "vi", "welsh": "cy", "afrikaans": "af", "tamil": "ta", "kurdish": "ku", "tatar": "tt",
	"turkmen": "tk", "kyrgyz": "ky", "tajik": "tg", "moldovan": "ro", "flemish": "nl", "castilian": "es",
	"luxembourgish": "lb", "esperanto": "eo", "latin": "la",
	// Names in the language itself that panels show and sometimes send.
	"deutsch": "de", "français": "fr", "francais": "fr", "español": "es", "espanol": "es", "italiano": "it",
	"nederlands": "nl", "português": "pt", "portugues": "pt", "русский": "ru", "українська": "uk",
	"polski": "pl", "türkçe": "tr", "turkce": "tr", "svenska": "sv", "dansk": "da", "norsk": "no",
	"suomi": "fi", "čeština": "cs", "cestina": "cs", "magyar": "hu", "română": "ro", "romana": "ro",
	"hrvatski": "hr", "eesti": "et", "català": "ca", "az\u0259rbaycan": "az",
}
