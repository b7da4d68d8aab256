//! Reading project files from disk: paths given on the command line
//! (files, or directories searched for `*.pdca`) and files pulled in by
//! `use "path.pdca"`.

use std::fmt;
use std::path::{Path, PathBuf};

/// One file to compile, as bytes (decoding is the compiler's job so that a
/// binary file becomes a diagnostic, not an I/O error).
#[derive(Debug, Clone)]
pub struct Input {
    /// Shown in diagnostics.
    pub name: String,
    /// Where it was read from, for resolving `use "…"` relative to it.
    pub path: Option<PathBuf>,
    pub content: Content,
}

#[derive(Debug, Clone)]
pub enum Content {
    Bytes(Vec<u8>),
    /// Larger than [`crate::source::MAX_FILE_BYTES`]; not read.
    TooLarge {
        len: u64,
    },
}

impl Input {
    pub fn from_text(name: &str, text: &str) -> Input {
        Input {
            name: name.to_string(),
            path: None,
            content: Content::Bytes(text.as_bytes().to_vec()),
        }
    }
}

/// A path the user named that cannot be read: a usage error (exit 2).
#[derive(Debug)]
pub struct LoadError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read `{}`: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for LoadError {}

/// An I/O error in plain words, without the OS error number.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = e.to_string().to_lowercase();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

fn display_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// Reads one file, refusing (without reading) files over the size limit.
pub fn read_file(path: &Path) -> Result<Input, LoadError> {
    let err = |e: std::io::Error| LoadError {
        path: path.to_path_buf(),
        reason: io_reason(&e),
    };
    let len = std::fs::metadata(path).map_err(err)?.len();
    let content = if len > crate::source::MAX_FILE_BYTES as u64 {
        Content::TooLarge { len }
    } else {
        Content::Bytes(std::fs::read(path).map_err(err)?)
    };
    Ok(Input {
        name: display_name(path),
        path: Some(path.to_path_buf()),
        content,
    })
}

/// Collects the inputs named on the command line: files as given,
/// directories searched recursively for `*.pdca` (sorted, hidden folders
/// and `target/` skipped).
pub fn collect(paths: &[PathBuf]) -> Result<Vec<Input>, LoadError> {
    let mut inputs = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| LoadError {
            path: path.clone(),
            reason: io_reason(&e),
        })?;
        if meta.is_dir() {
            let walker = walkdir::WalkDir::new(path)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0
                        || !(e.file_name().to_string_lossy().starts_with('.')
                            || (e.file_type().is_dir() && e.file_name() == "target"))
                });
            for entry in walker {
                let entry = entry.map_err(|e| LoadError {
                    path: e
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| path.clone()),
                    reason: e.to_string().to_lowercase(),
                })?;
                if entry.file_type().is_file()
                    && entry.path().extension().is_some_and(|x| x == "pdca")
                {
                    inputs.push(read_file(entry.path())?);
                }
            }
        } else {
            inputs.push(read_file(path)?);
        }
    }
    Ok(inputs)
}
