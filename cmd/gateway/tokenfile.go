package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// tokenOutput is where local mode writes each token it mints, once, and how
// to name that place in a log line: the file path, appended to and readable
// by its owner only (its directory, when missing, by its owner only too), or
// stderr when path is empty. The file is opened before the first token is
// minted, so that a path that cannot be written stops the gateway before a
// token is lost.
func tokenOutput(path string, log *slog.Logger) (io.Writer, string, error) {
	if path == "" {
		return os.Stderr, "stderr", nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", fmt.Errorf("--token-file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("--token-file: %w", err)
	}
	info, err := f.Stat()
	if err == nil && info.Mode().Perm()&0o077 != 0 {
		// Made by hand or by a shell redirection: narrow it before a token
		// goes in. Tokens already there may have been read.
		log.Warn("the token file was readable by others; it is now 0600: rotate the tokens in it if others could read them",
			"file", path, "mode", info.Mode().Perm().String())
		err = f.Chmod(0o600)
	}
	if err != nil {
		_ = f.Close()
		return nil, "", fmt.Errorf("--token-file: %w", err)
	}
	// Open for the life of the process, as stderr would be.
	return f, path, nil
}
