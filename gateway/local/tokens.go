package local

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/appapi-dev/appapi/internal/token"
)

// Files of the state directory.
const (
	// SigningKeyFile holds the Ed25519 key local tokens are signed with:
	// its private key, then its public key, both PEM.
	SigningKeyFile = "signing-key.pem"
	// TokensFile holds the record of each ApiToken's tokens: hashes, never
	// the tokens themselves.
	TokensFile = "tokens.json"
)

var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// tokensDocument is the content of TokensFile.
type tokensDocument struct {
	// Tokens are keyed by the ApiToken's namespace/name.
	Tokens map[string]*tokenState `json:"tokens"`
}

// tokenState is what is kept about one ApiToken.
type tokenState struct {
	// Environment is the Environment the tokens were minted for; they are
	// valid in no other.
	Environment string        `json:"environment"`
	Record      *token.Record `json:"record"`
}

// NewToken is a token minted by a Load, without its text: safe to log.
type NewToken struct {
	Name, Environment, ID string
	Rotated               bool
}

// minted is a token to print once.
type minted struct {
	NewToken
	text string
}

// state is the state directory during one Load.
type state struct {
	dir    string
	key    ed25519.PrivateKey
	doc    tokensDocument
	stored []byte // TokensFile as read, to write only on change
}

// openState creates the state directory and signing key when missing and
// reads the token records.
func openState(dir string) (*state, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	st := &state{dir: dir, doc: tokensDocument{Tokens: map[string]*tokenState{}}}
	var err error
	if st.key, err = loadOrCreateKey(filepath.Join(dir, SigningKeyFile)); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, TokensFile)
	st.stored, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := json.Unmarshal(st.stored, &st.doc); err != nil {
		// Starting afresh would silently revoke every token.
		return nil, fmt.Errorf("%s is not valid JSON: repair it, or delete it to revoke every local token and mint new ones", path)
	}
	if st.doc.Tokens == nil {
		st.doc.Tokens = map[string]*tokenState{}
	}
	return st, nil
}

func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := token.NewSigningKey()
		if err != nil {
			return nil, err
		}
		data = append(key[token.PrivateKeyKey], key[token.PublicKeyKey]...)
		if err := writeFileAtomic(path, data); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	// The private key is the file's first PEM block.
	key, err := token.ParseSigningKey(map[string][]byte{token.PrivateKeyKey: data})
	if err != nil {
		return nil, fmt.Errorf("%s: %v; delete it to create a new key (tokens already minted stay valid: the gateway checks their hashes)", path, err)
	}
	return key, nil
}

// writeFileAtomic replaces path with data, readable by its owner only, so
// that a crash leaves either the old or the new content.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// save writes TokensFile when its content changed.
func (st *state) save() error {
	data, err := json.MarshalIndent(st.doc, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if bytes.Equal(data, st.stored) {
		return nil
	}
	if err := writeFileAtomic(filepath.Join(st.dir, TokensFile), data); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	st.stored = data
	return nil
}

// tokenSync is the outcome of reconciling the records with the ApiTokens.
type tokenSync struct {
	minted   []minted
	records  map[string]*token.Record // of the served Environment's ApiTokens, by name
	warnings []string
}

// sync does what the ApiToken controller does for every ApiToken of the
// served Environment, env in namespace ns: mint the first token, rotate when
// the rotate annotation changes, follow spec.expiresAt and forget rotated
// tokens whose grace period ended (token.Reconcile, as the controller).
// Records of ApiTokens no longer in the directory are deleted, which revokes
// their tokens, unless some file could not be used in full and had no
// earlier good version: it may hold that ApiToken, mid-edit.
func (st *state) sync(m *manifests, ns, env string, now time.Time) (*tokenSync, error) {
	out := &tokenSync{records: map[string]*token.Record{}}
	warn := func(format string, args ...any) { out.warnings = append(out.warnings, fmt.Sprintf(format, args...)) }

	present := map[string]bool{}
	for _, t := range m.tokens {
		present[t.obj.Namespace+"/"+t.obj.Name] = true
	}
	var gone []string
	for key := range st.doc.Tokens {
		if !present[key] {
			gone = append(gone, key)
		}
	}
	slices.Sort(gone)
	if len(gone) > 0 && m.unreadable > 0 {
		warn("keeping the tokens of ApiTokens %v, which are not in the directory, until every file can be read", gone)
	} else {
		for _, key := range gone {
			delete(st.doc.Tokens, key)
		}
	}

	for _, t := range m.tokens {
		tok := t.obj
		if tok.Namespace != ns || tok.Spec.Environment != env {
			continue
		}
		key := tok.Namespace + "/" + tok.Name
		s := st.doc.Tokens[key]
		if s != nil && s.Environment != env {
			s = nil // minted for another Environment: useless in this one
		}
		if s != nil && !validRecord(s.Record) {
			warn("%s: the record of ApiToken %q in %s is not valid; minting a new token", t.at, tok.Name, TokensFile)
			s = nil
		}
		var record *token.Record
		if s != nil {
			record = s.Record
		}
		d, err := token.Reconcile(record, tok, now, func() (token.Minted, error) { return token.Mint(st.key, token.SubjectOf(tok), now) })
		if err != nil {
			return nil, fmt.Errorf("ApiToken %q: %w", tok.Name, err)
		}
		if d.Minted != nil {
			out.minted = append(out.minted, minted{NewToken{Name: tok.Name, Environment: env, ID: d.Minted.ID, Rotated: d.Replaced != ""}, d.Minted.Text})
		}
		st.doc.Tokens[key] = &tokenState{Environment: env, Record: d.Record}
		out.records[tok.Name] = d.Record
		if exp := tok.Expiry(); exp != nil && !exp.After(now) {
			warn("%s: ApiToken %q expired at %s; the gateway refuses it (Expired)", t.at, tok.Name, exp.Format(time.RFC3339))
		}
	}
	return out, nil
}

// validRecord checks a record read from disk, which may have been edited,
// so that it cannot make the snapshot invalid. Malformed rotated tokens are
// dropped.
func validRecord(r *token.Record) bool {
	if r == nil || r.Current.ID == "" || !hashPattern.MatchString(r.Current.Hash) {
		return false
	}
	r.Previous = slices.DeleteFunc(r.Previous, func(e token.Entry) bool {
		return e.ID == "" || !hashPattern.MatchString(e.Hash) || e.ExpiresAt == nil
	})
	return true
}
