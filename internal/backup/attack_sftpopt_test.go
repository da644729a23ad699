package backup

import (
	"errors"
	"testing"
)

// restic runs "ssh <host> -l <user> -s sftp": a host starting with '-' is
// an ssh option (-oProxyCommand=... runs a command as Palisade's user).
// The location must be refused before restic runs.
func TestAttackSFTPLocationOption(t *testing.T) {
	for _, loc := range []string{
		"sftp:u@-oProxyCommand=touch${IFS}/tmp/pwned:/x",
		"sftp:-oProxyCommand=touch${IFS}/tmp/pwned:/x",
		"sftp://u@-oProxyCommand=x/srv/repo",
		"sftp://-oProxyCommand=x/srv/repo",
		"sftp:-l@host:/x",
	} {
		r := &Repo{Location: loc, Password: "pw", CacheDir: "/tmp/cache"}
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%q) = %v, want ErrInvalid", loc, err)
		}
	}
	for _, loc := range []string{"sftp:backup@host:/srv/re-po", "sftp://backup@host:2222//srv/repo", "sftp:my-user@my-host:/x"} {
		r := &Repo{Location: loc, Password: "pw", CacheDir: "/tmp/cache"}
		if err := r.Validate(); err != nil {
			t.Errorf("Validate(%q) = %v", loc, err)
		}
	}
}
