package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/launchtap/launchtap/enrich/inventory"
)

// applyConfigFile sets every flag named by a key of the YAML file at path,
// except flags already given on the command line, which win. Keys are the
// long flag names without dashes (a one-letter shorthand names its flag
// too); a list sets a repeatable flag once per element, adding up. Unknown
// keys and bad values are errors naming the key.
func applyConfigFile(fs *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s: want a mapping of flag names to values at the top level", path)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if seen[key] {
			return fmt.Errorf("config %s:%d: key %q given twice", path, k.Line, key)
		}
		seen[key] = true
		f := fs.Lookup(key)
		if f == nil && len(key) == 1 {
			f = fs.ShorthandLookup(key)
		}
		if f == nil || key == "config" || key == "help" {
			return fmt.Errorf("config %s:%d: unknown key %q%s", path, k.Line, key, suggest(fs, key))
		}
		if f.Changed {
			continue // the command line wins
		}
		values, err := scalarValues(v)
		if err != nil {
			return fmt.Errorf("config %s:%d: key %q: %w", path, v.Line, key, err)
		}
		for _, s := range values {
			if err := fs.Set(f.Name, s); err != nil {
				return fmt.Errorf("config %s:%d: key %q: bad value %q: %w", path, v.Line, key, s, err)
			}
		}
	}
	return nil
}

func scalarValues(v *yaml.Node) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, errors.New("a list may hold only plain values")
			}
			out = append(out, e.Value)
		}
		return out, nil
	}
	return nil, errors.New("want a value or a list of values")
}

// suggest names the closest known key, for typos.
func suggest(fs *pflag.FlagSet, key string) string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	if best := inventory.Suggest(key, names); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}
