// goreader: an auditor's check of agent-ledger's static C2SP tlog-tiles, written against the
// Go reference code (golang.org/x/mod/sumdb/tlog and sumdb/note from Debian's
// golang-golang-x-mod-dev). It reads ONLY the exported files of one log directory:
//
//	goreader -dir DIR -vkey VKEY [-audit [-no-entries]] [-old OLD_CHECKPOINT] [-leaf N]...
//
// It opens DIR/checkpoint with the log's vkey, recomputes the root from the tiles
// (tlog.TileHashReader authenticates every tile it reads against that root), proves and checks
// the inclusion of each -leaf N (its entry taken from the entry bundle, leaf hash
// SHA-256(0x00||entry)), and the consistency of an older checkpoint file with the current one.
// With -audit it first checks every tile and entry: x/mod 0.7.0's TileHashReader authenticates
// only the tiles its root computation touches when they are fewer than the subtrees (its parent
// check starts at len(stx)), so a tampered leaf hash off every requested path can pass it.
// One line per fact on stdout; on failure one line `error: ...` on stderr and exit 1.
package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// c2spTiles maps sumdb's tiles (path tile/<H>/<L>/<N>[.p/<W>]) to C2SP's tile/<L>/<N>[.p/<W>].
type c2spTiles struct{ dir string }

func (c2spTiles) Height() int { return 8 }

func (c c2spTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := c.read(t)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (c c2spTiles) read(t tlog.Tile) ([]byte, error) {
	rel := "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
	data, err := os.ReadFile(filepath.Join(c.dir, rel))
	if errors.Is(err, os.ErrNotExist) && t.W < 256 {
		// C2SP: a partial tile may be gone once its full tile exists; use the full tile's prefix.
		full := t
		full.W = 256
		data, err = os.ReadFile(filepath.Join(c.dir, "tile/"+strings.TrimPrefix(full.Path(), "tile/8/")))
		if err == nil && len(data) >= t.W*tlog.HashSize {
			data = data[:t.W*tlog.HashSize]
		}
	}
	if err != nil {
		return nil, fmt.Errorf("tile %s: %v", rel, err)
	}
	return data, nil
}

func (c2spTiles) SaveTiles([]tlog.Tile, [][]byte) {}

type checkpoint struct {
	origin string
	tree   tlog.Tree
}

// openCheckpoint verifies the note with the vkey (also under the origin's name: C2SP checkpoints
// name their key after the origin, the same Ed25519 key) and parses the C2SP body itself
// (tlog.ParseTree wants sumdb's "go.sum database tree" header).
func openCheckpoint(path, vkey string) (checkpoint, error) {
	msg, err := os.ReadFile(path)
	if err != nil {
		return checkpoint{}, err
	}
	origin := strings.SplitN(string(msg), "\n", 2)[0]
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if len(parts) != 3 || err != nil || len(raw) != 33 || raw[0] != 1 {
		return checkpoint{}, fmt.Errorf("malformed vkey")
	}
	named, err := note.NewEd25519VerifierKey(origin, ed25519.PublicKey(raw[1:]))
	if err != nil {
		return checkpoint{}, err
	}
	var list []note.Verifier
	for _, k := range []string{vkey, named} {
		v, err := note.NewVerifier(k)
		if err != nil {
			return checkpoint{}, err
		}
		list = append(list, v)
	}
	n, err := note.Open(msg, note.VerifierList(list...))
	if err != nil {
		return checkpoint{}, fmt.Errorf("%s: %v", filepath.Base(path), err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != origin {
		return checkpoint{}, fmt.Errorf("malformed checkpoint body")
	}
	size, err1 := strconv.ParseInt(lines[1], 10, 64)
	root, err2 := base64.StdEncoding.DecodeString(lines[2])
	if err1 != nil || err2 != nil || len(root) != tlog.HashSize || size < 0 {
		return checkpoint{}, fmt.Errorf("malformed checkpoint size or root")
	}
	var h tlog.Hash
	copy(h[:], root)
	return checkpoint{origin, tlog.Tree{N: size, Hash: h}}, nil
}

// entry returns leaf i from its C2SP entry bundle (big-endian uint16 length-prefixed entries).
func entry(dir string, size, i int64) ([]byte, error) {
	n, w := i/256, int64(256)
	if (n+1)*256 > size {
		w = size - n*256
	}
	t := tlog.Tile{H: 8, L: 0, N: n, W: int(w)}
	rel := "tile/entries/" + strings.TrimPrefix(t.Path(), "tile/8/0/")
	data, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %v", rel, err)
	}
	for k := int64(0); len(data) >= 2; k++ {
		l := int(data[0])<<8 | int(data[1])
		if len(data) < 2+l {
			break
		}
		if k == i%256 {
			return data[2 : 2+l], nil
		}
		data = data[2+l:]
	}
	return nil, fmt.Errorf("bundle %s: entry %d missing", rel, i%256)
}

// widthAt is the width of tile N of a level holding `count` hashes.
func widthAt(count, n int64) int {
	if (n+1)*256 > count {
		return int(count - n*256)
	}
	return 256
}

// audit recomputes everything from the files, not only what proofs touch: the tree hash of all
// level-0 hashes (tlog.StoredHashesForRecordHash, tlog.TreeHash) must be the checkpoint's root,
// every hash of a tile above level 0 the stored hash at its level, every entry its leaf hash.
func audit(dir string, cp checkpoint, entries bool) error {
	c, n := c2spTiles{dir}, cp.tree.N
	var leaves, stored []tlog.Hash
	for idx := int64(0); idx*256 < n; idx++ {
		data, err := c.read(tlog.Tile{H: 8, L: 0, N: idx, W: widthAt(n, idx)})
		if err != nil {
			return err
		}
		for j := 0; j+tlog.HashSize <= len(data); j += tlog.HashSize {
			var h tlog.Hash
			copy(h[:], data[j:])
			leaves = append(leaves, h)
		}
	}
	if int64(len(leaves)) != n {
		return fmt.Errorf("tile/0: %d leaf hashes for size %d", len(leaves), n)
	}
	hr := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, leaf := range leaves {
		hs, err := tlog.StoredHashesForRecordHash(int64(i), leaf, hr)
		if err != nil {
			return err
		}
		stored = append(stored, hs...)
	}
	if root, err := tlog.TreeHash(n, hr); err != nil || root != cp.tree.Hash {
		return fmt.Errorf("tile/0: the tree hash of its %d leaf hashes is not the checkpoint's root", n)
	}
	tiles := 0
	for level := 1; n>>(8*level) > 0; level++ {
		count := n >> (8 * level)
		for idx := int64(0); idx*256 < count; idx++ {
			t := tlog.Tile{H: 8, L: level, N: idx, W: widthAt(count, idx)}
			data, err := c.read(t)
			if err != nil {
				return err
			}
			for j := 0; j < t.W; j++ {
				want := stored[tlog.StoredHashIndex(8*level, idx*256+int64(j))]
				if len(data) < (j+1)*tlog.HashSize || string(data[j*tlog.HashSize:(j+1)*tlog.HashSize]) != string(want[:]) {
					return fmt.Errorf("tile/%d/%s: hash %d is not the root of the tile below", level, strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/8/%d/", level)), j)
				}
			}
			tiles++
		}
	}
	bundles := int64(0)
	for idx := int64(0); entries && idx*256 < n; idx++ {
		for j := int64(0); j < int64(widthAt(n, idx)); j++ {
			body, err := entry(dir, n, idx*256+j)
			if err != nil {
				return err
			}
			if tlog.RecordHash(body) != leaves[idx*256+j] {
				return fmt.Errorf("entry %d does not hash to its leaf in tile/0", idx*256+j)
			}
		}
		bundles++
	}
	fmt.Printf("audit: %d leaves, %d upper tiles, %d entry bundles consistent\n", n, tiles, bundles)
	return nil
}

type leaves []int64

func (l *leaves) String() string { return fmt.Sprint(*l) }
func (l *leaves) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	*l = append(*l, v)
	return err
}

func run(dir, vkey, old string, idx leaves, all, entries bool) error {
	cp, err := openCheckpoint(filepath.Join(dir, "checkpoint"), vkey)
	if err != nil {
		return err
	}
	fmt.Printf("checkpoint %s size %d signature ok\n", cp.origin, cp.tree.N)
	if all {
		if err := audit(dir, cp, entries); err != nil {
			return err
		}
	}
	thr := tlog.TileHashReader(cp.tree, c2spTiles{dir})
	root, err := tlog.TreeHash(cp.tree.N, thr)
	if err != nil {
		return err
	}
	if root != cp.tree.Hash {
		return fmt.Errorf("root from tiles %s != checkpoint root %s", root, cp.tree.Hash)
	}
	fmt.Printf("root from tiles matches %s\n", root)
	for _, i := range idx {
		body, err := entry(dir, cp.tree.N, i)
		if err != nil {
			return err
		}
		proof, err := tlog.ProveRecord(cp.tree.N, i, thr)
		if err != nil {
			return err
		}
		if err := tlog.CheckRecord(proof, cp.tree.N, cp.tree.Hash, i, tlog.RecordHash(body)); err != nil {
			return fmt.Errorf("leaf %d: %v", i, err)
		}
		fmt.Printf("leaf %d included\n", i)
	}
	if old != "" {
		prev, err := openCheckpoint(old, vkey)
		if err != nil {
			return err
		}
		proof, err := tlog.ProveTree(cp.tree.N, prev.tree.N, thr)
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(proof, cp.tree.N, cp.tree.Hash, prev.tree.N, prev.tree.Hash); err != nil {
			return fmt.Errorf("consistency %d -> %d: %v", prev.tree.N, cp.tree.N, err)
		}
		fmt.Printf("consistent %d -> %d\n", prev.tree.N, cp.tree.N)
	}
	return nil
}

func main() {
	dir := flag.String("dir", "", "the log's directory (holding checkpoint and tile/)")
	vkey := flag.String("vkey", "", "the log's vkey (name+keyid+base64(0x01||key))")
	old := flag.String("old", "", "an older checkpoint file of the same log")
	all := flag.Bool("audit", false, "also check every tile and entry, not only the proofs' paths")
	noEntries := flag.Bool("no-entries", false, "with -audit: the export has no entry bundles")
	var idx leaves
	flag.Var(&idx, "leaf", "a leaf index to prove (repeatable)")
	flag.Parse()
	if err := run(*dir, *vkey, *old, idx, *all, !*noEntries); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
