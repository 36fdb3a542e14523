package config

import (
	"container/heap"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Ordered returns every stack in dependency order: a stack comes after all it depends on; among stacks
// free to go, the one earlier in the file goes first.
func (c *Config) Ordered() []Stack {
	index := c.index()
	waiting := make([]int, len(c.Stacks)) // dependencies not yet placed
	dependents := c.dependents(index)
	for i, s := range c.Stacks {
		for _, d := range s.DependsOn {
			if j, ok := index[d]; ok && j != i {
				waiting[i]++
			}
		}
	}
	ready := &indexHeap{}
	for i := range c.Stacks {
		if waiting[i] == 0 {
			heap.Push(ready, i)
		}
	}
	out := make([]Stack, 0, len(c.Stacks))
	for ready.Len() > 0 {
		next := heap.Pop(ready).(int)
		out = append(out, c.Stacks[next])
		for _, d := range dependents[next] {
			if waiting[d]--; waiting[d] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	// A cycle leaves stacks behind; Parse rejects cycles, so only a hand-built Config gets here.
	return out
}

// Affected returns, in dependency order, the stacks a change touches: those with a when_modified glob
// matching one of the changed paths (repo-relative, as the merge request diff gives them; for a rename,
// pass both paths), and every stack that depends on one of those, transitively. Paths outside the
// repository never match.
func (c *Config) Affected(changed []string) []Stack {
	clean := make([]string, 0, len(changed))
	for _, p := range changed {
		if p, ok := cleanRel(p); ok {
			clean = append(clean, p)
		}
	}
	dependents := c.dependents(c.index())
	hit := make([]bool, len(c.Stacks))
	var todo []int
	for i, s := range c.Stacks {
		if s.matchesAny(clean) {
			hit[i] = true
			todo = append(todo, i)
		}
	}
	for len(todo) > 0 {
		i := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, d := range dependents[i] {
			if !hit[d] {
				hit[d] = true
				todo = append(todo, d)
			}
		}
	}
	names := map[string]bool{}
	for i, s := range c.Stacks {
		if hit[i] {
			names[s.Name] = true
		}
	}
	var out []Stack
	for _, s := range c.Ordered() {
		if names[s.Name] {
			out = append(out, s)
		}
	}
	return out
}

// index maps stack names to their position in the file.
func (c *Config) index() map[string]int {
	index := make(map[string]int, len(c.Stacks))
	for i, s := range c.Stacks {
		index[s.Name] = i
	}
	return index
}

// dependents lists, for each stack, the stacks that name it in depends_on.
func (c *Config) dependents(index map[string]int) [][]int {
	out := make([][]int, len(c.Stacks))
	for i, s := range c.Stacks {
		for _, d := range s.DependsOn {
			if j, ok := index[d]; ok && j != i {
				out[j] = append(out[j], i)
			}
		}
	}
	return out
}

// indexHeap is a min-heap of stack positions.
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Matches reports whether a change to the repo-relative path p touches the stack by its when_modified
// globs.
func (s Stack) Matches(p string) bool {
	clean, ok := cleanRel(p)
	return ok && s.matchesAny([]string{clean})
}

// matchesAny reports whether a when_modified glob matches one of the paths, which are clean and
// repo-relative.
func (s Stack) matchesAny(changed []string) bool {
	for _, g := range s.WhenModified {
		full, ok := repoGlob(s.Dir, g)
		if !ok {
			continue
		}
		for _, p := range changed {
			if m, err := doublestar.Match(full, p); err == nil && m {
				return true
			}
		}
	}
	return false
}

// repoGlob turns a glob relative to dir into one relative to the repository root: leading ".."
// segments climb out of dir, dir's own characters are escaped so they match literally. ok is false when
// the glob climbs above the repository.
func repoGlob(dir, glob string) (string, bool) {
	var base []string
	if dir != "." && dir != "" {
		base = strings.Split(dir, "/")
	}
	segs := strings.Split(glob, "/")
	i := 0
	for ; i < len(segs); i++ {
		if segs[i] == "." {
			continue
		}
		if segs[i] != ".." {
			break
		}
		if len(base) == 0 {
			return "", false
		}
		base = base[:len(base)-1]
	}
	out := make([]string, 0, len(base)+len(segs)-i)
	for _, b := range base {
		out = append(out, escapeGlob(b))
	}
	for _, s := range segs[i:] {
		if s != "." {
			out = append(out, s)
		}
	}
	return path.Join(out...), true
}

func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]{}\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]{}\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// reportCycles reports each depends_on cycle once, named along its path: "a → b → a".
func reportCycles(p *problems, c *Config, n *nodes) {
	index := c.index()
	const (
		unvisited = iota
		onPath
		done
	)
	state := make([]int, len(c.Stacks))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		state[i] = onPath
		stack = append(stack, i)
		for k, d := range c.Stacks[i].DependsOn {
			j := index[d]
			switch state[j] {
			case unvisited:
				visit(j)
			case onPath:
				start := 0
				for stack[start] != j {
					start++
				}
				names := make([]string, 0, len(stack)-start+1)
				for _, s := range stack[start:] {
					names = append(names, c.Stacks[s].Name)
				}
				names = append(names, d)
				p.at(n.stacks[i].dependsOn[k], "stack %q: depends_on forms a cycle: %s", c.Stacks[i].Name, strings.Join(names, " → "))
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range c.Stacks {
		if state[i] == unvisited {
			visit(i)
		}
	}
}
