//! Uploaded COPY sources on disk, and the build context made of them: a tar with the Dockerfile at
//! its root and each upload's files under `<files_hash>/`.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the uploads of one installation live.
#[derive(Debug, Clone)]
pub struct UploadStore {
    dir: PathBuf,
}

impl UploadStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The gzip tar of `files_hash` uploaded by `org_id`.
    pub fn path(&self, org_id: i64, files_hash: &str) -> PathBuf {
        self.dir
            .join(org_id.to_string())
            .join(format!("{files_hash}.tar.gz"))
    }

    /// Where an upload is written before it is complete.
    pub fn partial_path(&self, org_id: i64, token: &str) -> PathBuf {
        self.dir
            .join(org_id.to_string())
            .join(format!(".{token}.part"))
    }

    pub async fn remove(&self, org_id: i64, files_hash: &str) {
        let path = self.path(org_id, files_hash);
        if let Err(e) = tokio::fs::remove_file(&path).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "removing an expired upload");
        }
    }
}

/// Why a build context could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("the upload of files_hash {0} is gone (it expired or never completed)")]
    Missing(String),
    #[error("the upload of files_hash {hash} is not a gzip tar archive: {source}")]
    Corrupt {
        hash: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing the build context failed")]
    Io(#[from] std::io::Error),
}

/// The build context (an uncompressed tar) for `dockerfile` and the uploads `(hash, path)`.
/// Entries are re-rooted under their hash; links and special files are dropped, and paths that
/// would leave their directory are refused by the tar writer.
pub fn build_context(
    dockerfile: &str,
    uploads: &[(String, PathBuf)],
) -> Result<Vec<u8>, ContextError> {
    let mut out = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    out.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())?;
    for (hash, path) in uploads {
        append_upload(&mut out, hash, path)?;
    }
    Ok(out.into_inner()?)
}

fn append_upload(
    out: &mut tar::Builder<Vec<u8>>,
    hash: &str,
    path: &Path,
) -> Result<(), ContextError> {
    let file = std::fs::File::open(path).map_err(|_| ContextError::Missing(hash.to_owned()))?;
    let corrupt = |source| ContextError::Corrupt {
        hash: hash.to_owned(),
        source,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            continue;
        }
        let rel = entry.path().map_err(corrupt)?.into_owned();
        let mut header = entry.header().clone();
        let name = Path::new(hash).join(rel.strip_prefix("./").unwrap_or(&rel));
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(corrupt)?;
        out.append_data(&mut header, name, data.as_slice())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn uploads_are_re_rooted_under_their_hash() {
        let dir = std::env::temp_dir().join(format!("warren-ctx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let upload = dir.join("h.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&upload).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o600);
        h.set_cksum();
        tar.append_data(&mut h, "app/a.py", &b"hi"[..]).unwrap();
        tar.into_inner().unwrap().finish().unwrap().flush().unwrap();

        let ctx = build_context("FROM x\n", &[("h".into(), upload)]).unwrap();
        let mut names = Vec::new();
        for e in tar::Archive::new(ctx.as_slice()).entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names, ["Dockerfile", "h/app/a.py"]);
        let missing = build_context("FROM x\n", &[("m".into(), dir.join("none"))]);
        assert!(matches!(missing, Err(ContextError::Missing(_))));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
