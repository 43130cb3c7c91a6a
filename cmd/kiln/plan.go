package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/internal/par"
)

type planTarget struct {
	Address string                   `json:"address"`
	States  map[string]digest.Digest `json:"states"`
}

func newPlanCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "plan [TARGET...]",
		ValidArgsFunction: completeTargets(g, 0),
		Short:             "Show the derivations a build needs, in order, and which are cached",
		Long: `plan compiles build.hcl and lists every derivation the targets need,
inputs first, with its digest, kind, what it does and its status:
cached (in the store), to build, or unresolved (an input has no pin in
build.lock.hcl, or a stale one: run 'kiln lock').`,
		RunE: func(cmd *cobra.Command, args []string) error {
			r := newRenderer(g, true)
			s, err := g.open(r, nil)
			if err != nil {
				return err
			}
			defer s.Close()
			plan, err := s.Plan(args)
			if err != nil {
				return err
			}
			defer r.mark("print")
			graph, entries := plan.Graph, plan.Entries
			if asJSON {
				var ts []planTarget
				for _, t := range graph.Targets {
					ts = append(ts, planTarget{Address: t.Address, States: t.States})
				}
				epoch, _ := s.Epoch()
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					SourceDateEpoch int64              `json:"source_date_epoch"`
					Targets         []planTarget       `json:"targets"`
					Derivations     []engine.PlanEntry `json:"derivations"`
				}{epoch, ts, entries})
			}
			return printPlan(graph, entries)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}

func printPlan(graph *compiler.Graph, entries []engine.PlanEntry) error {
	// Columns padded by hand rather than with text/tabwriter, which spent a
	// tenth of a 46,000-derivation plan's time buffering cells; the layout
	// is the same: each column as wide as its widest cell plus two spaces.
	// Two passes over the entries, widths then lines, each on every core a
	// block at a time (the entries' strings are scattered over the heap);
	// each block's lines go to a buffer of their exact size, written in
	// order.
	type tally struct {
		width                       [4]int
		ascii                       [4]bool // every cell of the column is ASCII
		cached, toBuild, unresolved int
		extra                       int // the lines' bytes beyond their cells' widths
	}
	blocks := (len(entries) + planBlock - 1) / planBlock
	tallies := make([]tally, blocks)
	par.Each(blocks, func(b int) {
		t := tally{ascii: [4]bool{true, true, true, true}}
		for i := b * planBlock; i < min(len(entries), (b+1)*planBlock); i++ {
			e := &entries[i]
			switch e.Status {
			case engine.StatusCached, engine.StatusCachedRemote:
				t.cached++
			case engine.StatusToBuild:
				t.toBuild++
			case engine.StatusUnresolved:
				t.unresolved++
			}
			for c, cell := range planCells(e) {
				n := utf8.RuneCountInString(cell)
				t.width[c] = max(t.width[c], n)
				t.ascii[c] = t.ascii[c] && n == len(cell)
				t.extra += len(cell) - n
			}
			t.extra += len(e.Description) + 1
		}
		tallies[b] = t
	})
	all := tally{ascii: [4]bool{true, true, true, true}}
	for _, t := range tallies {
		for c := range all.width {
			all.width[c] = max(all.width[c], t.width[c])
			all.ascii[c] = all.ascii[c] && t.ascii[c]
		}
		all.cached += t.cached
		all.toBuild += t.toBuild
		all.unresolved += t.unresolved
	}
	width, ascii := all.width, all.ascii
	cells := width[0] + width[1] + width[2] + width[3] + 8
	pad := strings.Repeat(" ", max(width[0], width[1], width[2], width[3])+2)
	lines := make([][]byte, blocks)
	par.Each(blocks, func(b int) {
		end := min(len(entries), (b+1)*planBlock)
		line := make([]byte, 0, tallies[b].extra+(end-b*planBlock)*cells)
		for i := b * planBlock; i < end; i++ {
			e := &entries[i]
			for c, cell := range planCells(e) {
				n := len(cell)
				if !ascii[c] {
					n = utf8.RuneCountInString(cell)
				}
				line = append(line, cell...)
				line = append(line, pad[:width[c]+2-n]...)
			}
			line = append(line, e.Description...)
			line = append(line, '\n')
		}
		lines[b] = line
	})
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	for _, l := range lines {
		w.Write(l)
	}
	for _, t := range graph.Targets {
		for _, pl := range t.Platforms {
			fmt.Fprintf(w, "%s (%s) -> %s\n", t.Address, pl, stateName(t.States[pl]))
		}
	}
	fmt.Fprintf(w, "%d derivations: %d cached, %d to build, %d unresolved\n", len(entries), all.cached, all.toBuild, all.unresolved)
	if all.unresolved > 0 {
		fmt.Fprintln(w, "Unresolved inputs have no pin in build.lock.hcl, or a stale one ('kiln lock --check' says what changed): run 'kiln lock'.")
	}
	return w.Flush()
}

// planBlock is how many entries printPlan hands a core at a time.
const planBlock = 4096

// planCells are the padded columns of an entry's line.
func planCells(e *engine.PlanEntry) [4]string {
	return [4]string{short(e.Digest), e.Status, string(e.Kind), e.Name}
}

func stateName(d digest.Digest) string {
	if d == "" {
		return "scratch"
	}
	return string(d)
}

// short is the first 12 hex digits of a digest, as git and docker abbreviate.
func short(d digest.Digest) string {
	if d == "" {
		return "scratch"
	}
	// Encoded, without looking for the colon in the common case.
	h, ok := strings.CutPrefix(string(d), "sha256:")
	if !ok {
		h = d.Encoded()
	}
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}
