//! Reading project files from disk: paths given on the command line
//! (files, or directories searched for `*.pdca`) and files pulled in by
//! `use "path.pdca"`.
//!
//! Definitions come from pull requests, so everything here assumes hostile
//! input: a `use` may only name a regular `.pdca` file inside the project
//! folders ([`Roots`]), nothing is read past [`MAX_FILE_BYTES`] + 1 bytes,
//! and nothing that is not a regular file is ever opened for reading in a way
//! that can block (FIFOs, devices, sockets).

use std::fmt;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::source::MAX_FILE_BYTES;

/// One file to compile, as bytes (decoding is the compiler's job so that a
/// binary file becomes a diagnostic, not an I/O error).
#[derive(Debug, Clone)]
pub struct Input {
    /// Shown in diagnostics.
    pub name: String,
    /// Where it was read from, for resolving `use "…"` relative to it.
    pub path: Option<PathBuf>,
    pub content: Content,
    /// The folders its `use` lines may read from.
    pub roots: Arc<Roots>,
}

#[derive(Debug, Clone)]
pub enum Content {
    Bytes(Vec<u8>),
    /// Larger than [`crate::source::MAX_FILE_BYTES`]; not read (or read only
    /// up to the limit). `len` is the size seen, at least the limit plus one.
    TooLarge {
        len: u64,
    },
}

impl Input {
    pub fn from_text(name: &str, text: &str) -> Input {
        Input::from_bytes(name, text.as_bytes().to_vec())
    }

    /// An in-memory source: it has no folder, so it cannot `use` files.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Input {
        Input {
            name: name.to_string(),
            path: None,
            content: Content::Bytes(bytes),
            roots: Arc::default(),
        }
    }
}

/// The project folders, canonical (symlinks resolved), that `use` may read
/// from: the directories named on the command line and the folders of the
/// files named there, or the single folder given with `--root`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roots(Vec<PathBuf>);

impl Roots {
    /// Roots from folders that exist; each is canonicalized.
    pub fn new(dirs: &[PathBuf]) -> Result<Roots, LoadError> {
        let mut roots = Vec::new();
        for dir in dirs {
            let canonical = dir.canonicalize().map_err(|e| LoadError {
                path: dir.clone(),
                reason: io_reason(&e),
            })?;
            if !canonical.is_dir() {
                return Err(LoadError {
                    path: dir.clone(),
                    reason: "is not a folder".into(),
                });
            }
            if !roots.contains(&canonical) {
                roots.push(canonical);
            }
        }
        Ok(Roots(roots))
    }

    /// Whether a canonical path lies inside one of the roots.
    pub fn contains(&self, path: &Path) -> bool {
        self.0.iter().any(|root| path.starts_with(root))
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

/// What a path is when it is neither a regular file nor a folder, in words.
fn special_kind(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

/// Opens a file without ever blocking: a FIFO swapped in after the type
/// check opens at once (O_NONBLOCK) and is then refused by the check on the
/// open handle.
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Why a file could not be read.
enum ReadError {
    Io(std::io::Error),
    /// Not a regular file; the words say what it is.
    NotRegular(&'static str),
}

/// Reads a regular file, at most [`MAX_FILE_BYTES`] + 1 bytes of it, so that
/// neither a huge file nor one that grows while read can exhaust memory.
fn read_regular(path: &Path) -> Result<Content, ReadError> {
    // Refuse special files before opening them at all.
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(special_kind(&meta)));
    }
    let file = open_nonblocking(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(special_kind(&meta)));
    }
    let limit = MAX_FILE_BYTES as u64;
    if meta.len() > limit {
        return Ok(Content::TooLarge { len: meta.len() });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Ok(Content::TooLarge {
            len: bytes.len() as u64,
        });
    }
    Ok(Content::Bytes(bytes))
}

/// Reads one file named by the user; `use` lines in it may read from `roots`.
fn read_named(path: &Path, roots: Arc<Roots>) -> Result<Input, LoadError> {
    let content = read_regular(path).map_err(|e| LoadError {
        path: path.to_path_buf(),
        reason: match e {
            ReadError::Io(e) => io_reason(&e),
            ReadError::NotRegular(kind) => format!("it is {kind}, not a regular file or a folder"),
        },
    })?;
    Ok(Input {
        name: display_name(path),
        path: Some(path.to_path_buf()),
        content,
        roots,
    })
}

/// Reads one file; its own folder is the root its `use` lines may read from.
pub fn read_file(path: &Path) -> Result<Input, LoadError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let roots = Roots::new(&[parent]).unwrap_or_default();
    read_named(path, Arc::new(roots))
}

/// Collects the inputs named on the command line: files as given,
/// directories searched recursively for `*.pdca` (sorted, hidden folders
/// and `target/` skipped). `use` may read inside the directories given and
/// the folders of the files given.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<Input>, LoadError> {
    collect_in(paths, None)
}

/// [`collect`], with `use` confined to `root` instead when it is given
/// (`--root DIR`).
pub fn collect_in(paths: &[PathBuf], root: Option<&Path>) -> Result<Vec<Input>, LoadError> {
    let mut metas = Vec::with_capacity(paths.len());
    for path in paths {
        // `metadata` never opens the file, so a FIFO cannot block here.
        let meta = std::fs::metadata(path).map_err(|e| LoadError {
            path: path.clone(),
            reason: io_reason(&e),
        })?;
        if !meta.is_dir() && !meta.is_file() {
            return Err(LoadError {
                path: path.clone(),
                reason: format!(
                    "it is {}, not a regular file or a folder",
                    special_kind(&meta)
                ),
            });
        }
        metas.push(meta);
    }
    let roots = match root {
        Some(root) => Roots::new(&[root.to_path_buf()])?,
        None => {
            let dirs: Vec<PathBuf> = paths
                .iter()
                .zip(&metas)
                .map(|(path, meta)| {
                    if meta.is_dir() {
                        path.clone()
                    } else {
                        match path.parent() {
                            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                            _ => PathBuf::from("."),
                        }
                    }
                })
                .collect();
            Roots::new(&dirs)?
        }
    };
    let roots = Arc::new(roots);
    let mut inputs = Vec::new();
    for (path, meta) in paths.iter().zip(&metas) {
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
                let t = entry.file_type();
                // Symbolic links are not followed: a link in a pull request
                // must not pull in files from elsewhere.
                if t.is_dir() || t.is_symlink() {
                    continue;
                }
                if entry.path().extension().is_some_and(|x| x == "pdca") {
                    inputs.push(read_named(entry.path(), roots.clone())?);
                }
            }
        } else {
            inputs.push(read_named(path, roots.clone())?);
        }
    }
    Ok(inputs)
}

/// Why a `use "…"` line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UseError {
    /// Absolute, or resolves outside the project folders (E0208).
    Outside(String),
    /// Not a regular `.pdca` file (E0209).
    NotSource(String),
    /// Missing or unreadable (E0204); `tried` is the path looked for.
    Unreadable { reason: String, tried: PathBuf },
}

/// `a/b/../c` without touching the file system; `None` when `..` climbs
/// above the start.
fn normalize(base: &Path, rel: &Path) -> Option<PathBuf> {
    let mut out = base.to_path_buf();
    for c in rel.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn is_pdca(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "pdca")
}

/// Resolves `use "written"` in `user` and reads the file it names, if it is
/// a regular `.pdca` file inside the user's project folders. Checks that
/// need no file system access come first, so a refused path is never opened.
pub fn resolve_use(user: &Input, written: &str) -> Result<Input, UseError> {
    let rel = Path::new(written);
    if written.is_empty() {
        return Err(UseError::NotSource("the path is empty".into()));
    }
    if rel.has_root() || rel.is_absolute() {
        return Err(UseError::Outside(
            "an absolute path; `use` takes a path relative to this file".into(),
        ));
    }
    if written.contains('\0') {
        return Err(UseError::NotSource("the path contains a NUL byte".into()));
    }
    let Some(base) = user.path.as_ref().and_then(|p| p.parent()) else {
        return Err(UseError::Unreadable {
            reason: "this source is not a file on disk, so it has no folder to start from".into(),
            tried: rel.to_path_buf(),
        });
    };
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let tried = base.join(rel);
    let outside = || UseError::Outside("this path leads outside the project folder".into());
    let canonical_base = base.canonicalize().map_err(|e| UseError::Unreadable {
        reason: io_reason(&e),
        tried: tried.clone(),
    })?;
    match normalize(&canonical_base, rel) {
        Some(lexical) if user.roots.contains(&lexical) => {}
        _ => return Err(outside()),
    }
    if !is_pdca(rel) {
        return Err(UseError::NotSource(
            "the file name does not end in `.pdca`".into(),
        ));
    }
    let canonical = tried.canonicalize().map_err(|e| UseError::Unreadable {
        reason: io_reason(&e),
        tried: tried.clone(),
    })?;
    // Symbolic links are resolved now: where they lead must pass the same checks.
    if !user.roots.contains(&canonical) {
        return Err(UseError::Outside(
            "a symbolic link on this path leads outside the project folder".into(),
        ));
    }
    if !is_pdca(&canonical) {
        return Err(UseError::NotSource(
            "a symbolic link on this path leads to a file whose name does not end in `.pdca`"
                .into(),
        ));
    }
    let content = read_regular(&canonical).map_err(|e| match e {
        ReadError::NotRegular(kind) => UseError::NotSource(format!("it is {kind}")),
        ReadError::Io(e) => UseError::Unreadable {
            reason: io_reason(&e),
            tried: tried.clone(),
        },
    })?;
    Ok(Input {
        name: display_name(&tried),
        path: Some(tried),
        content,
        roots: user.roots.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_stays_lexical() {
        let base = Path::new("/p/q");
        assert_eq!(
            normalize(base, Path::new("a/../b.pdca")),
            Some(PathBuf::from("/p/q/b.pdca"))
        );
        assert_eq!(
            normalize(base, Path::new("../../../x")),
            None,
            "climbing above / is refused"
        );
        assert_eq!(
            normalize(base, Path::new("../x.pdca")),
            Some(PathBuf::from("/p/x.pdca"))
        );
    }

    #[test]
    fn roots_contain_by_component() {
        let roots = Roots(vec![PathBuf::from("/p/q")]);
        assert!(roots.contains(Path::new("/p/q/a.pdca")));
        assert!(!roots.contains(Path::new("/p/qq/a.pdca")));
        assert!(!roots.contains(Path::new("/p/a.pdca")));
    }

    #[test]
    fn in_memory_sources_cannot_use_files() {
        let input = Input::from_text("a.pdca", "");
        assert!(matches!(
            resolve_use(&input, "b.pdca"),
            Err(UseError::Unreadable { .. })
        ));
        assert!(matches!(
            resolve_use(&input, "/etc/passwd"),
            Err(UseError::Outside(_))
        ));
    }
}
