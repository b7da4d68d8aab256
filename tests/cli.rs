//! The real `pdca` binary: exit codes, output formats, bad input.

use std::path::Path;
use std::process::{Command, Output};

fn pdca(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdca"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run pdca")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

const BROKEN: &str = r#"use stdlib.roles.{service_desk}
record R { summary text required }
process p "P" for R {
  started by service_desk
  state open initial
  state stuck
  state done final
  transition go open -> stuck by service_desk
  transition finish open -> done by service_desk
}
"#;

#[test]
fn reference_processes_check_clean() {
    let out = pdca(&["check", "processes", "--deny", "warnings"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("0 errors, 0 warnings"));
}

#[test]
fn examples_check_clean() {
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")).unwrap()
    {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // Examples may cover their clauses only partly (W0701), never with errors.
            let out = pdca(&["check", path.to_str().unwrap()]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                path.display(),
                stdout(&out)
            );
            assert!(stdout(&out).contains(" 0 errors"), "{}", stdout(&out));
        }
    }
}

#[test]
fn broken_definition_gets_code_location_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "broken.pdca", BROKEN);
    let out = pdca(&["check", &file]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("[E0304] Error: instances in `stuck` can never finish"),
        "{text}"
    );
    assert!(text.contains("broken.pdca:6:9"), "{text}");
    assert!(text.contains("Help:"), "{text}");
}

#[test]
fn json_format_has_one_object_per_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "broken.pdca", BROKEN);
    let out = pdca(&["check", &file, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let d = &lines[0];
    assert_eq!(d["code"], "E0304");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["line"], 6);
    assert_eq!(d["column"], 9);
    assert!(d["file"].as_str().unwrap().ends_with("broken.pdca"));
    assert!(d["message"].as_str().unwrap().contains("stuck"));
    assert!(d["help"].as_str().unwrap().contains("final"));
}

#[test]
fn warnings_fail_only_when_denied() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "empty.pdca", "// nothing here yet\n");
    let out = pdca(&["check", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("W0101"));
    let out = pdca(&["check", &file, "--deny", "warnings"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn missing_path_is_a_usage_error() {
    let out = pdca(&["check", "does/not/exist.pdca"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does/not/exist.pdca"), "{err}");
}

#[test]
fn directory_without_definitions_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = pdca(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_flag_is_a_usage_error() {
    let out = pdca(&["check", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn directories_are_searched_recursively() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    write(&dir.path().join("a/b"), "deep.pdca", BROKEN);
    write(dir.path(), "notes.txt", "not a definition");
    let out = pdca(&["check", dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("deep.pdca"));
    assert!(!stdout(&out).contains("notes.txt"));
}

#[test]
fn binary_input_is_a_diagnostic_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob.pdca");
    std::fs::write(&path, [0x7f, b'E', b'L', b'F', 0xff, 0xfe, 0, 1, 2]).unwrap();
    let out = pdca(&["check", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("E0103"), "{}", stdout(&out));
}

#[test]
fn oversized_input_is_a_diagnostic_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.pdca");
    let line = "// padding padding padding padding padding padding padding padding\n";
    let text = line.repeat(pdca::source::MAX_FILE_BYTES / line.len() + 2);
    std::fs::write(&path, text).unwrap();
    let out = pdca(&["check", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("E0104"), "{}", stdout(&out));
}

#[test]
fn use_loads_another_file_relative_to_the_user() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("shared")).unwrap();
    write(
        &dir.path().join("shared"),
        "records.pdca",
        "record R { summary text required }\n",
    );
    let main = write(
        dir.path(),
        "main.pdca",
        r#"use "shared/records.pdca"
use stdlib.roles.{service_desk}
process p "P" for R {
  started by service_desk
  state open initial is recorded
  state done final is closed
  transition finish open -> done by service_desk
}
"#,
    );
    let out = pdca(&["check", &main]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("checked 2 files"), "{}", stdout(&out));
}

#[test]
fn explain_prints_the_explanation() {
    let out = pdca(&["explain", "E0304"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("E0304: state cannot reach a final state"));
    let lower = pdca(&["explain", "w0601"]);
    assert_eq!(lower.status.code(), Some(0));
}

#[test]
fn explain_unknown_code_exits_2() {
    let out = pdca(&["explain", "E9999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E9999"));
}

/// The language tour in README.md compiles clean (with a minimal `problem`
/// process for its links), so the documentation cannot drift from the language.
#[test]
fn readme_tour_checks_clean() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("```pdca\n").expect("a pdca block") + "```pdca\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tour.pdca", &readme[start..end]);
    write(
        dir.path(),
        "problem.pdca",
        r#"use stdlib.roles.{problem_manager}
record Problem { summary text required }
process problem "Problem management" for Problem {
  started by problem_manager
  state logged initial is recorded
  state closed final is closed
  transition close logged -> closed by problem_manager
}
"#,
    );
    // The tour claims 8.6.1 without everything the clause asks (W0701).
    let out = pdca(&["check", dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    for line in stdout(&out).lines() {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(d["code"], "W0701", "{line}");
    }
}
