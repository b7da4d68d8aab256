//! The files a compilation reads: project files from disk and the stdlib,
//! which is embedded in the binary and shown under a virtual `<stdlib>/` path.

use crate::syntax::span::{FileId, Span};

/// Files larger than this are refused with a diagnostic instead of parsed.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub id: FileId,
    /// The path shown to people (relative as given on the command line, or `<stdlib>/x.pdca`).
    pub name: String,
    pub text: String,
    pub is_stdlib: bool,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        (line + 1, col + 1)
    }
}

#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: String, is_stdlib: bool) -> FileId {
        let id = FileId(self.files.len() as u32);
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.files.push(SourceFile {
            id,
            name: name.into(),
            text,
            is_stdlib,
            line_starts,
        });
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    pub fn find(&self, name: &str) -> Option<FileId> {
        self.files.iter().find(|f| f.name == name).map(|f| f.id)
    }

    /// `(file name, line, column)` of the start of a span.
    pub fn locate(&self, span: Span) -> (&str, usize, usize) {
        let file = self.get(span.file);
        let (line, col) = file.line_col(span.start as usize);
        (&file.name, line, col)
    }

    /// The text a span covers.
    pub fn snippet(&self, span: Span) -> &str {
        self.get(span.file).text.get(span.range()).unwrap_or("")
    }
}
