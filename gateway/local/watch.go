package local

import (
	"context"
	"io/fs"
	"maps"
	"time"
)

// debounce is how long a Watcher waits after the last change it saw before
// calling onChange, so that an editor's save or a git checkout touching
// many files causes one reload.
const debounce = 200 * time.Millisecond

// fileStamp is what a Watcher compares to notice a change.
type fileStamp struct {
	size    int64
	modTime int64 // Unix nanoseconds
}

// Watcher notices when a manifest file under a directory (one Load reads)
// is added, removed or changed. It polls the size and modification time of
// every file, which works on every file system, mounted ConfigMaps
// included.
type Watcher struct {
	dir  string
	last map[string]fileStamp
}

// NewWatcher takes note of the files as they are now. Make it before the
// first Load: a change made after NewWatcher returns is seen by Run, even
// one made before Run starts or while that Load reads.
func NewWatcher(dir string) *Watcher {
	return &Watcher{dir: dir, last: scan(dir)}
}

// Run calls onChange whenever the files changed, once changes have settled
// for about 200ms, polling every interval (a second when not positive).
// onChange runs on Run's goroutine, never twice at once. Run returns when
// ctx is done.
func (w *Watcher) Run(ctx context.Context, interval time.Duration, onChange func()) {
	if interval <= 0 {
		interval = time.Second
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	timer := time.NewTimer(debounce)
	timer.Stop()
	defer timer.Stop()
	var settled <-chan time.Time // nil until a change is pending
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if cur := scan(w.dir); !maps.Equal(cur, w.last) {
				w.last = cur
				timer.Reset(debounce)
				settled = timer.C
			}
		case <-settled:
			settled = nil
			onChange()
		}
	}
}

// scan stamps every manifest file under dir. Files that cannot be read are
// left out, so they count as changed when they become readable.
func scan(dir string) map[string]fileStamp {
	stamps := map[string]fileStamp{}
	_ = walkManifests(dir, "", func(path string, info fs.FileInfo, err error) {
		if err == nil {
			stamps[path] = fileStamp{size: info.Size(), modTime: info.ModTime().UnixNano()}
		}
	})
	return stamps
}
