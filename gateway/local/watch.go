package local

import (
	"context"
	"io/fs"
	"maps"
	"time"
)

// debounce is how long Watch waits after the last change it saw before
// calling onChange, so that an editor's save or a git checkout touching
// many files causes one reload.
const debounce = 200 * time.Millisecond

// fileStamp is what Watch compares to notice a change.
type fileStamp struct {
	size    int64
	modTime int64 // Unix nanoseconds
}

// Watch calls onChange whenever a manifest file under dir (one Load reads)
// is added, removed or changed, once changes have settled for about 200ms.
// It polls the size and modification time of every file each interval,
// which works on every file system, mounted ConfigMaps included. onChange
// runs on Watch's goroutine, never twice at once. Watch returns when ctx is
// done.
func Watch(ctx context.Context, dir string, interval time.Duration, onChange func()) {
	watch(ctx, dir, interval, onChange, nil)
}

// watch is Watch; started, when set, is called once the files as they
// were at the start are known, which tests wait for.
func watch(ctx context.Context, dir string, interval time.Duration, onChange, started func()) {
	if interval <= 0 {
		interval = time.Second
	}
	last := scan(dir)
	if started != nil {
		started()
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
			if cur := scan(dir); !maps.Equal(cur, last) {
				last = cur
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
