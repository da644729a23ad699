package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// MySQLConfig is how to reach one MariaDB or MySQL database.
type MySQLConfig struct {
	Host     string // default "127.0.0.1" when Socket is empty
	Port     int    // default 3306
	Socket   string // a Unix socket instead of Host and Port
	User     string
	Password string
	Database string
	// DumpPath is the dump tool; empty means mariadb-dump, else mysqldump,
	// from PATH.
	DumpPath string
	// ClientPath is the client RestoreMySQL runs; empty means mariadb,
	// else mysql, from PATH.
	ClientPath string
	// TempDir holds the short-lived option file with the password; empty
	// means os.TempDir().
	TempDir string
	// ResolveHost, when set, turns Host into the address the tool
	// connects to, or refuses it (the job runner's netguard policy: a
	// tenant's settings must not reach the operator's own network). The
	// tool gets the address, so the name is not resolved a second time.
	ResolveHost func(ctx context.Context, host string) (string, error)
}

// resolved is c with Host replaced by ResolveHost's answer.
func (c MySQLConfig) resolved(ctx context.Context) (MySQLConfig, error) {
	if c.ResolveHost == nil {
		return c, nil
	}
	if c.Socket != "" {
		return c, fmt.Errorf("%w: a Unix socket is not allowed for this database", ErrInvalid)
	}
	host := c.Host
	if host == "" {
		host = "127.0.0.1"
	}
	a, err := c.ResolveHost(ctx, host)
	if err != nil {
		return c, fmt.Errorf("%w: database host: %w", ErrInvalid, err)
	}
	c.Host = a
	return c, nil
}

func (c *MySQLConfig) validate() error {
	var errs []error
	if !dbNameRE.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("database name %q must be 1-64 letters, digits, '_', '$' or '-'", c.Database))
	}
	if c.User == "" {
		errs = append(errs, errors.New("database user is required"))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("database port %d is out of range", c.Port))
	}
	for _, v := range []string{c.Host, c.Socket, c.User} {
		if strings.ContainsAny(v, "\x00\n\r") {
			errs = append(errs, errors.New("database host, socket and user cannot hold control characters"))
			break
		}
	}
	if strings.ContainsRune(c.Password, 0) {
		errs = append(errs, errors.New("database password cannot hold a NUL byte"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// optionValue quotes v for a MySQL option file, whose parser reads the
// backslash escapes \\ \" \n \r \t inside double quotes.
func optionValue(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(v) + `"`
}

// optionFile is the [client] section holding the connection and password.
func (c *MySQLConfig) optionFile() string {
	var b strings.Builder
	b.WriteString("[client]\n")
	b.WriteString("user=" + optionValue(c.User) + "\n")
	b.WriteString("password=" + optionValue(c.Password) + "\n")
	if c.Socket != "" {
		b.WriteString("socket=" + optionValue(c.Socket) + "\n")
	} else {
		host, port := c.Host, c.Port
		if host == "" {
			host = "127.0.0.1"
		}
		if port == 0 {
			port = 3306
		}
		b.WriteString("host=" + optionValue(host) + "\n")
		b.WriteString("port=" + strconv.Itoa(port) + "\n")
	}
	return b.String()
}

// withOptionFile writes the option file (mode 0600) for the length of fn
// and removes it afterwards.
func (c *MySQLConfig) withOptionFile(fn func(path string) error) error {
	dir := c.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "palisade-mysql-*.cnf")
	if err != nil {
		return fmt.Errorf("backup: database option file: %w", err)
	}
	name := f.Name()
	defer os.Remove(name)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("backup: database option file: %w", err)
	}
	if _, err := f.WriteString(c.optionFile()); err != nil {
		f.Close()
		return fmt.Errorf("backup: database option file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: database option file: %w", err)
	}
	return fn(filepath.Clean(name))
}

func lookTool(configured string, names ...string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("backup: none of %s found (install mariadb-client)", strings.Join(names, ", "))
}

// toolEnv is the environment of the database tools: no MYSQL_PWD or
// MYSQL_HOST of the service leaks in.
func toolEnv() []string {
	env := []string{"LC_ALL=C", "TZ=UTC"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// DumpMySQL writes an SQL dump of cfg.Database to w: a consistent snapshot
// of InnoDB tables (--single-transaction), rows streamed (--quick), with
// routines and triggers, binary columns as hex. The password reaches the
// dump tool through a temporary option file, never its command line.
func DumpMySQL(ctx context.Context, cfg MySQLConfig, w io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	cfg, err := cfg.resolved(ctx)
	if err != nil {
		return err
	}
	bin, err := lookTool(cfg.DumpPath, "mariadb-dump", "mysqldump")
	if err != nil {
		return err
	}
	return cfg.withOptionFile(func(opt string) error {
		args := []string{
			"--defaults-extra-file=" + opt, // must come first
			"--single-transaction", "--quick", "--routines", "--triggers", "--no-tablespaces",
			"--hex-blob", "--default-character-set=utf8mb4",
			cfg.Database,
		}
		p := newProcess(ctx, filepath.Base(bin), bin, args, toolEnv(), []string{cfg.Password})
		p.cmd.Stdout = w
		return p.wrap(ctx, p.cmd.Run())
	})
}

// RestoreMySQL runs the SQL read from r (a dump made by DumpMySQL) against
// cfg.Database with the mariadb (or mysql) client. The database must exist;
// tables in the dump replace tables of the same name.
func RestoreMySQL(ctx context.Context, cfg MySQLConfig, r io.Reader) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	cfg, err := cfg.resolved(ctx)
	if err != nil {
		return err
	}
	bin, err := lookTool(cfg.ClientPath, "mariadb", "mysql")
	if err != nil {
		return err
	}
	return cfg.withOptionFile(func(opt string) error {
		args := []string{
			"--defaults-extra-file=" + opt,
			"--default-character-set=utf8mb4", "--binary-mode", "--batch",
			cfg.Database,
		}
		p := newProcess(ctx, filepath.Base(bin), bin, args, toolEnv(), []string{cfg.Password})
		p.cmd.Stdin = r
		p.cmd.Stdout = &capBuffer{max: 64 << 10}
		return p.wrap(ctx, p.cmd.Run())
	})
}
