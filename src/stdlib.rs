//! The standard library: pdca source embedded in the binary. Its files are
//! shown in diagnostics as `<stdlib>/MODULE.pdca` and imported with
//! `use stdlib.MODULE…`.

/// `(module name, source)` for every stdlib module.
pub const MODULES: &[(&str, &str)] = &[
    ("tags", include_str!("../stdlib/tags.pdca")),
    ("roles", include_str!("../stdlib/roles.pdca")),
    ("priority", include_str!("../stdlib/priority.pdca")),
    ("calendars", include_str!("../stdlib/calendars.pdca")),
    ("templates", include_str!("../stdlib/templates.pdca")),
    ("iso20000", include_str!("../stdlib/iso20000.pdca")),
];

/// The name a stdlib module has in diagnostics.
pub fn virtual_path(module: &str) -> String {
    format!("<stdlib>/{module}.pdca")
}
