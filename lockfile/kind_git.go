package lockfile

// TypeGit is a git repository: url and the ref asked for, pinned by
// commit, with its tree and commit time.
const TypeGit = "git"

type gitKind struct{}

var _ kind = gitKind{}

func (gitKind) attrs() []attrSpec {
	return []attrSpec{
		{name: "url", check: checkNonEmpty, str: fURL},
		{name: "ref", check: checkNonEmpty, str: fRef},
		{name: "commit", check: checkObject, str: fCommit},
		{name: "tree", check: checkObject, str: fTree},
		{name: "commit_time", kind: kindInt, num: fCommitTime},
	}
}

func (gitKind) matches(in *Input, e *Entry) bool {
	return e.URL == in.Source.URL && e.Ref == in.Source.GitRef
}

func (gitKind) pin(e *Entry, _ string) (string, bool) { return e.Commit, true }

func (gitKind) request(in *Input) string {
	return "url " + in.Source.URL + " ref " + in.Source.GitRef
}

func (gitKind) entryRequest(e *Entry) string { return "url " + e.URL + " ref " + e.Ref }

func (gitKind) summary(e *Entry) string { return e.Ref + "@" + short(e.Commit) }
