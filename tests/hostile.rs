//! Hostile input against the real binary: `pdca check` and `pdca coverage`
//! run in CI on definitions from anyone who can open a pull request. Every
//! case runs under a timeout (a hang fails the test instead of the CI job),
//! checks the exit code and that no secret content reaches the output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Long enough for a slow, loaded CI machine; a hang is reported, not waited out.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Planted in files outside the project and in the environment; must never be printed.
const SECRET: &str = "hunter2-pdca-secret-7f3a";

struct Run {
    code: Option<i32>,
    out: String,
}

/// Runs `pdca SUB ARGS` in `cwd`, killing it after [`TIMEOUT`].
fn pdca_in(cwd: &Path, sub: &str, args: &[&str]) -> Run {
    let logs = tempfile::tempdir().expect("tempdir");
    let stdout = std::fs::File::create(logs.path().join("out")).expect("out");
    let stderr = std::fs::File::create(logs.path().join("err")).expect("err");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pdca"))
        .arg(sub)
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("PDCA_HOSTILE_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn pdca");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`pdca {sub} {}` hung (killed after {TIMEOUT:?})",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |name: &str| {
        String::from_utf8_lossy(&std::fs::read(logs.path().join(name)).unwrap_or_default())
            .into_owned()
    };
    let out = format!("{}{}", read("out"), read("err"));
    assert!(
        status.code().is_some(),
        "`pdca {sub} {}` was killed by a signal: {status:?}\n{out}",
        args.join(" ")
    );
    assert_ne!(status.code(), Some(101), "pdca panicked:\n{out}");
    Run {
        code: status.code(),
        out,
    }
}

/// Runs both `check` and `coverage` with the same arguments.
fn both(cwd: &Path, args: &[&str]) -> [Run; 2] {
    [pdca_in(cwd, "check", args), pdca_in(cwd, "coverage", args)]
}

/// The first line of /etc/passwd (what the issue saw printed), if there is one.
fn passwd_line() -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines()
        .next()
        .filter(|l| l.len() > 3)
        .map(str::to_string)
}

fn assert_no_secret(run: &Run) {
    assert!(!run.out.contains(SECRET), "secret printed:\n{}", run.out);
    if let Some(line) = passwd_line() {
        assert!(
            !run.out.contains(&line),
            "/etc/passwd printed:\n{}",
            run.out
        );
    }
}

/// A project folder `proj/` with `main.pdca` using `target`, and a secret
/// file beside the project (outside it).
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn using(target: &str) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("proj")).expect("proj");
        std::fs::write(
            dir.path().join("secret.pdca"),
            format!("{SECRET} this is not pdca\n"),
        )
        .expect("secret");
        std::fs::write(dir.path().join("secret.txt"), format!("{SECRET}\n")).expect("secret");
        let project = Project { dir };
        project.write(
            "main.pdca",
            &format!("use \"{target}\"\n\nrole someone \"Someone\"\n"),
        );
        project
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn proj(&self) -> PathBuf {
        self.dir.path().join("proj")
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.proj().join(name), text).expect("write");
    }

    /// `pdca check proj` and `pdca coverage proj`: must report `code`, exit 1.
    fn expect_code(&self, code: &str) {
        for run in both(self.root(), &["proj"]) {
            assert_eq!(run.code, Some(1), "{}", run.out);
            assert!(run.out.contains(&format!("[{code}]")), "{}", run.out);
            assert_no_secret(&run);
        }
    }
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

#[test]
fn use_of_an_absolute_path_is_refused() {
    for target in [
        "/etc/passwd",
        "/proc/self/environ",
        "/dev/zero",
        "/dev/urandom",
        "/etc/passwd.pdca",
    ] {
        Project::using(target).expect_code("E0208");
    }
}

#[test]
fn use_climbing_out_of_the_project_is_refused() {
    for target in [
        "../secret.pdca",
        "../secret.txt",
        "sub/../../secret.pdca",
        "../../../../../../../../../../etc/passwd",
        "../proj/../secret.pdca",
    ] {
        Project::using(target).expect_code("E0208");
    }
}

#[test]
fn use_inside_the_project_through_dot_dot_works() {
    let p = Project::using("sub/../shared.pdca");
    p.write("shared.pdca", "role other \"Other\"\n");
    std::fs::create_dir(p.proj().join("sub")).expect("sub");
    let run = pdca_in(p.root(), "check", &["proj"]);
    assert_eq!(run.code, Some(0), "{}", run.out);
}

#[test]
fn use_of_a_file_that_is_not_pdca_is_refused_without_reading_it() {
    let p = Project::using("notes.txt");
    p.write("notes.txt", &format!("{SECRET}\n"));
    p.expect_code("E0209");
}

#[test]
fn use_through_a_symlink_leaving_the_project_is_refused() {
    use std::os::unix::fs::symlink;
    // A link to a file outside, one to /proc/self/environ, one to a device,
    // and a linked folder that leads outside.
    let p = Project::using("escape.pdca");
    symlink(p.root().join("secret.pdca"), p.proj().join("escape.pdca")).expect("symlink");
    p.expect_code("E0208");

    let p = Project::using("environ.pdca");
    symlink("/proc/self/environ", p.proj().join("environ.pdca")).expect("symlink");
    p.expect_code("E0208");

    let p = Project::using("zero.pdca");
    symlink("/dev/zero", p.proj().join("zero.pdca")).expect("symlink");
    p.expect_code("E0208");

    let p = Project::using("outside/secret.pdca");
    symlink(p.root(), p.proj().join("outside")).expect("symlink");
    p.expect_code("E0208");
}

#[test]
fn use_through_a_symlink_to_a_non_pdca_file_is_refused() {
    use std::os::unix::fs::symlink;
    let p = Project::using("alias.pdca");
    p.write("notes.txt", &format!("{SECRET}\n"));
    symlink(p.proj().join("notes.txt"), p.proj().join("alias.pdca")).expect("symlink");
    p.expect_code("E0209");
}

#[test]
fn symlinks_in_a_checked_folder_are_not_followed() {
    use std::os::unix::fs::symlink;
    let p = Project::using("other.pdca");
    p.write("other.pdca", "role other \"Other\"\n");
    symlink(p.root().join("secret.pdca"), p.proj().join("linked.pdca")).expect("symlink");
    for run in both(p.root(), &["proj"]) {
        assert_eq!(run.code, Some(0), "{}", run.out);
        assert_no_secret(&run);
    }
}

#[test]
fn use_of_a_fifo_is_refused_without_blocking() {
    let p = Project::using("pipe.pdca");
    mkfifo(&p.proj().join("pipe.pdca"));
    // Only main.pdca is named; checking the whole folder stops at the FIFO
    // with exit 2 (see `a_fifo_on_the_command_line_is_a_usage_error`).
    for run in both(p.root(), &["proj/main.pdca"]) {
        assert_eq!(run.code, Some(1), "{}", run.out);
        assert!(run.out.contains("[E0209]"), "{}", run.out);
        assert!(run.out.contains("named pipe"), "{}", run.out);
    }
}

#[test]
fn a_fifo_on_the_command_line_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    mkfifo(&dir.path().join("x.pdca"));
    for args in [&["x.pdca"][..], &["."][..]] {
        for run in both(dir.path(), args) {
            assert_eq!(run.code, Some(2), "{}", run.out);
            assert!(run.out.contains("named pipe"), "{}", run.out);
        }
    }
}

#[test]
fn a_socket_is_a_usage_error_on_the_command_line_and_refused_by_use() {
    let p = Project::using("sock.pdca");
    let _listener =
        std::os::unix::net::UnixListener::bind(p.proj().join("sock.pdca")).expect("bind");
    for run in both(p.root(), &["proj/sock.pdca"]) {
        assert_eq!(run.code, Some(2), "{}", run.out);
        assert!(run.out.contains("a socket"), "{}", run.out);
    }
    for run in both(p.root(), &["proj/main.pdca"]) {
        assert_eq!(run.code, Some(1), "{}", run.out);
        assert!(run.out.contains("[E0209]"), "{}", run.out);
    }
}

#[test]
fn devices_on_the_command_line_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    for device in ["/dev/zero", "/dev/urandom", "/dev/null"] {
        for run in both(dir.path(), &[device]) {
            assert_eq!(run.code, Some(2), "{device}: {}", run.out);
            assert!(run.out.contains("a device"), "{}", run.out);
        }
    }
}

#[test]
fn a_folder_named_like_a_source_is_refused_by_use() {
    let p = Project::using("dir.pdca");
    std::fs::create_dir(p.proj().join("dir.pdca")).expect("dir");
    p.expect_code("E0209");
}

#[test]
fn huge_sources_are_refused_without_reading_them() {
    // Sparse: 4 GiB on paper, nothing on disk; only the size is looked at.
    let p = Project::using("huge.pdca");
    let huge = std::fs::File::create(p.proj().join("huge.pdca")).expect("huge");
    huge.set_len(4 << 30).expect("set_len");
    p.expect_code("E0104");
    for run in both(p.root(), &["proj/huge.pdca"]) {
        assert_eq!(run.code, Some(1), "{}", run.out);
        assert!(run.out.contains("[E0104]"), "{}", run.out);
    }
}

#[test]
fn nul_bytes_are_a_syntax_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("nul.pdca"),
        b"role a \"A\0\"\nrole\0b\n\0\0\0use \"x\0.pdca\"\n",
    )
    .expect("write");
    for run in both(dir.path(), &["nul.pdca"]) {
        assert_eq!(run.code, Some(1), "{}", run.out);
        assert!(run.out.contains("[E01"), "{}", run.out);
    }
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let depth = 50_000;
    let texts = [
        (
            "braces.pdca",
            format!("process p \"P\" for R {}\n", "{".repeat(depth)),
        ),
        (
            "guard.pdca",
            format!(
                "use stdlib.roles.{{service_desk}}\nrecord R {{ major bool }}\nprocess p \"P\" for R {{\n  started by service_desk\n  state a initial is recorded\n  state b final is closed\n  transition go a -> b by service_desk when {}record.major{}\n}}\n",
                "(".repeat(depth),
                ")".repeat(depth)
            ),
        ),
        ("quotes.pdca", "\"".repeat(depth)),
        ("closers.pdca", "}".repeat(depth)),
    ];
    for (name, text) in &texts {
        std::fs::write(dir.path().join(name), text).expect("write");
        for run in both(dir.path(), &[name]) {
            assert_eq!(run.code, Some(1), "{name}: {}", run.out);
        }
    }
}

#[test]
fn a_use_cycle_loads_each_file_once() {
    let p = Project::using("a.pdca");
    p.write("a.pdca", "use \"main.pdca\"\nrole a \"A\"\n");
    let run = pdca_in(p.root(), "check", &["proj/main.pdca"]);
    assert_eq!(run.code, Some(0), "{}", run.out);
    assert!(run.out.contains("checked 2 files"), "{}", run.out);
}

#[test]
fn root_option_widens_and_confines_the_project() {
    let p = Project::using("../shared/roles.pdca");
    std::fs::create_dir(p.root().join("shared")).expect("shared");
    std::fs::write(p.root().join("shared/roles.pdca"), "role other \"Other\"\n").expect("write");
    // Outside `proj/` by default …
    let run = pdca_in(p.root(), "check", &["proj"]);
    assert_eq!(run.code, Some(1), "{}", run.out);
    assert!(run.out.contains("[E0208]"), "{}", run.out);
    // … inside with `--root .`, for check and coverage alike …
    let run = pdca_in(p.root(), "check", &["proj", "--root", "."]);
    assert_eq!(run.code, Some(0), "{}", run.out);
    let run = pdca_in(p.root(), "coverage", &["proj", "--root", "."]);
    assert_eq!(run.code, Some(0), "{}", run.out);
    // … and a root that is not a folder is a usage error.
    let run = pdca_in(p.root(), "check", &["proj", "--root", "proj/main.pdca"]);
    assert_eq!(run.code, Some(2), "{}", run.out);
}
