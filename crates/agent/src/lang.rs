//! Languages the agent runs, their aliases (CONTRACT.md §3.1), and the toolchain probe cache behind
//! `/health`'s `languages` and `/cache/*`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ApiError;

/// A language the agent knows how to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    Node,
    Bash,
    Sh,
    Go,
}

impl Language {
    pub const ALL: [Language; 5] = [Self::Python, Self::Node, Self::Bash, Self::Sh, Self::Go];

    /// Resolves a language id or alias.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "python" | "python3" | "py" | "ipython" => Self::Python,
            "node" | "nodejs" | "javascript" | "js" => Self::Node,
            "bash" | "shell" => Self::Bash,
            "sh" => Self::Sh,
            "go" | "golang" => Self::Go,
            other => {
                return Err(
                    ApiError::bad_request(format!("Unsupported language: {other}"))
                        .with_detail("language", other),
                );
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::Node => "javascript",
            Self::Bash => "bash",
            Self::Sh => "sh",
            Self::Go => "go",
        }
    }

    /// File extension of the scratch file the code is written to.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Python => "py",
            Self::Node => "js",
            Self::Bash | Self::Sh => "sh",
            Self::Go => "go",
        }
    }

    /// The interpreter looked up in `PATH` (Python's is configurable).
    fn program(self, python: &str) -> String {
        match self {
            Self::Python => python.to_owned(),
            Self::Node => "node".into(),
            Self::Bash => "bash".into(),
            Self::Sh => "sh".into(),
            Self::Go => "go".into(),
        }
    }

    /// argv that runs `file`.
    pub fn argv(self, program: &Path, file: &Path) -> (String, Vec<String>) {
        let p = program.display().to_string();
        let f = file.display().to_string();
        match self {
            Self::Go => (p, vec!["run".into(), f]),
            Self::Python => (p, vec!["-u".into(), f]),
            _ => (p, vec![f]),
        }
    }
}

/// Paths of the toolchains present in the image, probed on first use and cached.
pub struct Toolchains {
    python: String,
    path_var: String,
    probed: Mutex<Option<Vec<(Language, PathBuf)>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Counters of the toolchain cache.
pub struct CacheStats {
    pub size: usize,
    pub hits: u64,
    pub misses: u64,
}

impl Toolchains {
    pub fn new(python: String, path_var: String) -> Self {
        Self {
            python,
            path_var,
            probed: Mutex::new(None),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn probe(&self) -> Vec<(Language, PathBuf)> {
        Language::ALL
            .into_iter()
            .filter_map(|l| find_program(&l.program(&self.python), &self.path_var).map(|p| (l, p)))
            .collect()
    }

    fn with<T>(&self, f: impl FnOnce(&[(Language, PathBuf)]) -> T) -> T {
        let mut guard = self.probed.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        f(guard.get_or_insert_with(|| self.probe()))
    }

    /// The interpreter of `lang`, if the image has it.
    pub fn program(&self, lang: Language) -> Option<PathBuf> {
        self.with(|p| p.iter().find(|(l, _)| *l == lang).map(|(_, p)| p.clone()))
    }

    /// Names of the languages present.
    pub fn languages(&self) -> Vec<&'static str> {
        self.with(|p| p.iter().map(|(l, _)| l.name()).collect())
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            size: self
                .probed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map_or(0, Vec::len),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Forgets the probe; returns how many entries were dropped.
    pub fn clear(&self) -> usize {
        let old = self.probed.lock().unwrap_or_else(|e| e.into_inner()).take();
        old.map_or(0, |v| v.len())
    }
}

/// Looks `name` up like `execvp` does (an absolute or relative path is checked as is).
pub fn find_program(name: &str, path_var: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve() {
        for (alias, lang) in [
            ("python3", Language::Python),
            ("nodejs", Language::Node),
            ("js", Language::Node),
            ("shell", Language::Bash),
            ("sh", Language::Sh),
            ("Go", Language::Go),
        ] {
            assert_eq!(Language::parse(alias).unwrap(), lang);
        }
        assert_eq!(
            Language::parse("cobol").unwrap_err().code,
            "INVALID_REQUEST"
        );
    }

    #[test]
    fn probe_is_cached_until_cleared() {
        let t = Toolchains::new("python3".into(), "/usr/bin:/bin".into());
        assert!(t.program(Language::Sh).is_some());
        let _ = t.languages();
        assert_eq!(t.stats().misses, 1);
        assert_eq!(t.stats().hits, 1);
        assert!(t.clear() > 0);
        assert_eq!(t.stats().size, 0);
    }
}
