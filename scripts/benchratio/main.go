// Command benchratio reads `go test -bench` output on stdin and prints, per benchmark
// pair NAME/vault and NAME/plain, the median ns/op of each and their ratio, plus any
// custom metrics (such as tpm-cmds/op). It is what `make bench` prints at the end.
package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	samples := map[string]map[string][]float64{} // bench name → unit → values
	var order []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if samples[name] == nil {
			samples[name] = map[string][]float64{}
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			samples[name][f[i+1]] = append(samples[name][f[i+1]], v)
		}
	}
	if len(order) == 0 {
		fmt.Fprintln(os.Stderr, "benchratio: no benchmark lines on stdin")
		os.Exit(1)
	}
	fmt.Printf("%-40s %14s %14s\n", "benchmark (median of runs)", "ms/op", "other")
	for _, n := range order {
		other := ""
		for unit, vs := range samples[n] {
			if unit != "ns/op" && unit != "B/op" && unit != "allocs/op" {
				other += fmt.Sprintf(" %.4g %s", median(vs), unit)
			}
		}
		fmt.Printf("%-40s %14.2f %s\n", n, median(samples[n]["ns/op"])/1e6, other)
	}
	fmt.Println()
	for _, n := range order {
		base, ok := strings.CutSuffix(n, "/vault")
		if !ok {
			continue
		}
		plain, ok := samples[base+"/plain"]
		if !ok {
			continue
		}
		r := median(samples[n]["ns/op"]) / median(plain["ns/op"])
		fmt.Printf("ratio %-34s vault/plain = %.2fx\n", base, r)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
