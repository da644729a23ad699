package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

// stringList is a repeatable flag; its environment twin and config-file entry
// take comma-separated values or, in the file, a YAML list.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s = append(*s, part)
		}
	}
	return nil
}

// envName is a flag's environment twin: --database-url ↔ PALISADE_DATABASE_URL.
func envName(flagName string) string {
	return "PALISADE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args into fs, then fills every flag not given on the
// command line from its PALISADE_* environment variable, or else from the
// config file named by --config / PALISADE_CONFIG. Flags win over the
// environment, the environment over the file.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var configPath string
	if fs.Lookup("config") == nil {
		fs.StringVar(&configPath, "config", "", "read settings from this file (flat YAML: `key: value` per line, keys as the flag names)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["config"] {
		if v := getenv(envName("config")); v != "" {
			configPath = v
		}
	} else {
		configPath = fs.Lookup("config").Value.String()
	}
	file := map[string][]string{}
	if configPath != "" {
		var err error
		if file, err = readConfigFile(configPath); err != nil {
			return err
		}
		var unknown []string
		for k := range file {
			if fs.Lookup(k) == nil {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return fmt.Errorf("%s: unknown setting(s) %s for %q; see --help", configPath, strings.Join(unknown, ", "), fs.Name())
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" || err != nil {
			return
		}
		if v, ok := lookupEnv(getenv, envName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
			return
		}
		for _, v := range file[f.Name] {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %s: %q: %v", configPath, f.Name, v, e)
				return
			}
		}
	})
	return err
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// readConfigFile reads a flat YAML file: "key: value" lines, "# comments",
// and lists as "key:" followed by "  - item" lines.
func readConfigFile(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	out := map[string][]string{}
	var listKey string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasPrefix(trimmed, "- ") {
			if listKey == "" {
				return nil, fmt.Errorf("%s:%d: list item without a key above it", path, n)
			}
			out[listKey] = append(out[listKey], unquote(strings.TrimSpace(trimmed[2:])))
			continue
		}
		key, val, ok := strings.Cut(trimmed, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected `key: value`", path, n)
		}
		key = strings.TrimSpace(key)
		val = strings.TrimSpace(val)
		if i := strings.Index(val, " #"); i >= 0 && !strings.HasPrefix(val, `"`) && !strings.HasPrefix(val, `'`) {
			val = strings.TrimSpace(val[:i])
		}
		if val == "" {
			listKey = key
			continue
		}
		listKey = ""
		out[key] = append(out[key], unquote(val))
	}
	return out, sc.Err()
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}
