package challenge

import (
	"fmt"
	"net/url"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func queryEscape(s string) string { return url.QueryEscape(s) }
