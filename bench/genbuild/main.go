// Command genbuild writes the large synthetic project that bench/plan.sh
// times: build.hcl from internal/gen plus the local source folders it
// names, so that kiln plan can run on it end to end.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kiln-build/kiln/internal/gen"
)

func main() {
	stages := flag.Int("stages", 10000, "stages")
	sources := flag.Int("sources", 1000, "shared sources")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: genbuild [-stages N] [-sources N] DIR")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	if err := write(dir, *stages, *sources); err != nil {
		fmt.Fprintln(os.Stderr, "genbuild:", err)
		os.Exit(1)
	}
}

func write(dir string, stages, sources int) error {
	for i := 2; i < sources; i += 3 {
		d := filepath.Join(dir, "src", fmt.Sprint(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "main.c"), []byte(fmt.Sprintf("int main(void) { return %d; }\n", i%100)), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "build.hcl"), gen.Large(stages, sources), 0o644)
}
