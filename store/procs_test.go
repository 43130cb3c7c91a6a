package store

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestCleanersSpareLiveParticipants: cleaners removing dead participant
// files while participants register never remove a file whose process
// holds it. Tested first and removed after, a file locked in between went
// under a live process, whose temp entries (its running steps' upper
// directories) then counted as a dead one's.
func TestCleanersSpareLiveParticipants(t *testing.T) {
	root := t.TempDir()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ents, _ := os.ReadDir(procsDir(root))
				for _, e := range ents {
					removeIfDead(root, e.Name())
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for i := range 1500 {
		p, err := register(root)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(procsDir(root), p.token)
		for range 20 {
			if !samePath(p.f, path) {
				t.Fatalf("registration %d: a cleaner removed %s while its participant held it", i, p.token)
			}
		}
		p.f.Close()
	}
}
