package engine

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/internal/remotedef"
	"github.com/kiln-build/kiln/lang"
)

// fetchRemote brings a remote definition (-f URL) into a temporary
// folder and returns the build file to load there and the name
// diagnostics give it: the URL pinned to the commit it was read at.
func (s *Session) fetchRemote(spec string) (file, name string, err error) {
	d, err := remotedef.Fetch(context.Background(), spec, "")
	if err != nil {
		return "", "", fmt.Errorf("reading the remote build definition: %w", err)
	}
	s.remote = d
	if d.Commit != "" {
		s.emit(Event{Kind: Notice, Message: fmt.Sprintf("build definition %s at commit %s", spec, d.Commit)})
	} else {
		s.emit(Event{Kind: Notice, Message: fmt.Sprintf("build definition %s", spec)})
	}
	return d.File, d.Pinned, nil
}

// checkRemote refuses what a remote definition cannot have: a build file
// fetched over http has no folder, so nothing in it can be a local path.
func (s *Session) checkRemote(cfg *lang.Config) error {
	if s.remote == nil {
		return nil
	}
	// Diagnostics name the URL; the epoch's git log needs the real name.
	cfg.Filename = filepath.Base(s.remote.File)
	if s.remote.Kind != "http" {
		return nil
	}
	var diags hcl.Diagnostics
	for _, src := range cfg.Sources {
		if src.Type == "local" || src.Type == "oci-layout" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Local source in a build file fetched over http",
				Detail: fmt.Sprintf("%s reads the folder %q, but a build file fetched over http comes without its folder. "+
					"Name the repository instead (git+https://host/repo#REF:path/build.hcl), or build from a checkout.", src.Address(), src.Path),
				Subject: src.DeclRange.Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		return s.diagError(diags, false)
	}
	return nil
}

// Definition is the pinned URL of a remote definition (with the commit it
// was read at), or "" for a local build file.
func (s *Session) Definition() string {
	if s.remote == nil {
		return ""
	}
	return s.remote.Pinned
}

// LocalFile is the build file on this machine: the -f path, or where a
// remote definition was fetched to (until Close). kiln verify's rebuilds
// read it, so that every rebuild builds the commit the first one did.
func (s *Session) LocalFile() string {
	if s.remote != nil {
		return s.remote.File
	}
	return s.opts.File
}

// closeRemote removes a fetched definition.
func (s *Session) closeRemote() {
	if s.remote != nil {
		s.remote.Close()
		s.remote = nil
	}
}
