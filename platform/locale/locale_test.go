package locale

import "testing"

func TestFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{"unset", map[string]string{}, map[string]string{"LANG": Default}},
		{"C", map[string]string{"LANG": "C"}, map[string]string{"LANG": Default}},
		{"C.UTF-8 everywhere", map[string]string{"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}, map[string]string{"LANG": Default}},
		{"POSIX", map[string]string{"LC_MESSAGES": "POSIX"}, map[string]string{"LANG": Default}},
		{"german kept", map[string]string{"LANG": "de_AT.UTF-8"}, map[string]string{"LANG": "de_AT.UTF-8"}},
		{"english kept", map[string]string{"LC_ALL": "en_GB.UTF-8", "LANG": "C"}, map[string]string{"LC_ALL": "en_GB.UTF-8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = v
			}
			Fix(func(k string) string { return env[k] },
				func(k, v string) error { env[k] = v; return nil },
				func(k string) error { delete(env, k); return nil })
			if len(env) != len(tc.want) {
				t.Fatalf("env = %v, want %v", env, tc.want)
			}
			for k, v := range tc.want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q (env %v)", k, env[k], v, env)
				}
			}
		})
	}
}
