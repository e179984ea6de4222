//! Projects as people publish them: public repositories, and submodules whose URLs may carry
//! someone's `user:password@` (issue 17's `git clone --recurse-submodules` case).

use super::{BitbucketServer, lock};

impl BitbucketServer {
    /// Makes `workspace/repo` public: it is read without credentials (git's anonymous first
    /// try succeeds), as a public Bitbucket repository is.
    pub fn make_public(&self, workspace: &str, repo: &str) {
        lock(&self.state.public).push(format!("{workspace}/{repo}"));
    }

    /// Adds a submodule `name` at `url` (which may carry `user:password@`), pinned to the
    /// `main` of `target` (`ws/repo` on this server), to `workspace/repo`'s `main`: a
    /// `.gitmodules` and a gitlink, as a project with a submodule has.
    pub fn add_submodule(&self, workspace: &str, repo: &str, name: &str, url: &str, target: &str) {
        let bare = |path: &str| self.repos_root().join(format!("{path}.git"));
        let path = bare(&format!("{workspace}/{repo}"));
        let pinned = self.plumbing(&bare(target), &["rev-parse", "main"], "");
        let listing = self.plumbing(&path, &["ls-tree", "main"], "");
        let old = listing
            .lines()
            .find_map(|l| l.split_once('\t').filter(|(_, n)| *n == ".gitmodules"))
            .map(|(meta, _)| meta.rsplit(' ').next().unwrap_or_default().to_owned());
        let mut modules = match old {
            Some(blob) => self.plumbing(&path, &["cat-file", "blob", &blob], "") + "\n",
            None => String::new(),
        };
        modules.push_str(&format!(
            "[submodule \"{name}\"]\n\tpath = {name}\n\turl = {url}\n"
        ));
        let blob = self.plumbing(&path, &["hash-object", "-w", "--stdin"], &modules);
        let mut entries: Vec<String> = listing
            .lines()
            .filter(|l| !l.ends_with("\t.gitmodules"))
            .map(str::to_owned)
            .collect();
        entries.push(format!("100644 blob {blob}\t.gitmodules"));
        entries.push(format!("160000 commit {pinned}\t{name}"));
        let tree = self.plumbing(&path, &["mktree"], &(entries.join("\n") + "\n"));
        let commit = self.plumbing(
            &path,
            &["commit-tree", &tree, "-p", "main", "-m", "Add a submodule"],
            "",
        );
        self.plumbing(&path, &["update-ref", "refs/heads/main", &commit], "");
    }
}
