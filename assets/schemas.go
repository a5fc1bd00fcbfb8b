package assets

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"fieldoffice/cases"
)

// Schemas is the registry of the sample form schemas, parsed once. It satisfies
// storage.Forms (Schema(service)), so the CLI, the app and tests hand it to the vault
// until the portal delivers forms.
type Schemas struct{}

var (
	parseOnce sync.Once
	parsed    map[string]*cases.Schema
	parseErr  error
)

func load() (map[string]*cases.Schema, error) {
	parseOnce.Do(func() {
		raw, err := Forms()
		if err != nil {
			parseErr = err
			return
		}
		parsed = make(map[string]*cases.Schema, len(raw))
		for name, b := range raw {
			s, err := cases.ParseSchema(b)
			if err != nil {
				parseErr = fmt.Errorf("form %s: %w", name, err)
				return
			}
			parsed[name] = s
		}
	})
	return parsed, parseErr
}

// Schema returns the parsed schema of service, or an error naming the known services.
func (Schemas) Schema(service string) (*cases.Schema, error) {
	all, err := load()
	if err != nil {
		return nil, err
	}
	s, ok := all[service]
	if !ok {
		return nil, fmt.Errorf("unknown service %q (known: %v)", service, slices.Sorted(maps.Keys(all)))
	}
	return s, nil
}

// Services returns the service IDs of the sample forms, sorted.
func (Schemas) Services() ([]string, error) {
	all, err := load()
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(all)), nil
}
