package p0f

import (
	_ "embed"
	"fmt"
	"os"
	"strings"
	"sync"
)

//go:embed launchtap.fp
var defaultFP string

var (
	defaultOnce sync.Once
	defaultDB   *DB
	defaultErr  error
)

// Default returns launchtap's embedded signature database, parsed once.
func Default() (*DB, error) {
	defaultOnce.Do(func() {
		defaultDB, defaultErr = Parse(strings.NewReader(defaultFP))
		if defaultErr != nil {
			defaultErr = fmt.Errorf("p0f: embedded launchtap.fp: %w", defaultErr)
		}
	})
	return defaultDB, defaultErr
}

// DefaultText returns the embedded database's text, e.g. for `--p0f-db` users
// who want a starting point.
func DefaultText() string { return defaultFP }

// Load reads a database from a file.
func Load(path string) (*DB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("p0f: opening database: %w", err)
	}
	defer f.Close()
	db, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("p0f: %s: %w", path, err)
	}
	return db, nil
}
