//! The committed C header matches the sources, and compiles cleanly as C99 and as C++.

use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The header build.rs generated from the current sources.
fn generated_header() -> String {
    let path = Path::new(env!("OUT_DIR")).join("otc_session.h");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} (written by build.rs): {e}", path.display()))
}

#[test]
fn committed_header_matches_the_sources() {
    let committed = std::fs::read_to_string(crate_dir().join("include/otc_session.h"))
        .expect("include/otc_session.h");
    let generated = generated_header();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(n, (a, b))| format!("line {}:\n  committed: {a}\n  generated: {b}", n + 1))
            .unwrap_or_else(|| "one file is a prefix of the other".into());
        panic!("include/otc_session.h is stale ({first_difference}); run `OTC_UPDATE_HEADER=1 cargo build` and commit it");
    }
}

#[test]
fn header_documents_every_declaration() {
    let header = generated_header();
    let lines: Vec<&str> = header.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        // A top-level declaration of a function or a function-pointer type.
        let declares_function = line.starts_with(|c: char| c.is_ascii_lowercase())
            && line.contains("otc_")
            && line.contains('(')
            && !line.starts_with("static inline");
        if declares_function {
            assert!(
                n > 0 && lines[n - 1].trim() == "*/",
                "undocumented declaration at line {}: {line}",
                n + 1
            );
        }
    }
}

#[test]
fn header_has_include_guard_and_cplusplus_linkage() {
    let header = generated_header();
    assert!(header.contains("#ifndef OTC_SESSION_H"));
    assert!(header.contains("extern \"C\" {"));
}

fn compile(compiler: &str, args: &[&str]) {
    let out = std::env::temp_dir().join(format!(
        "otc_header_check_{}_{compiler}",
        std::process::id()
    ));
    let include_dir = crate_dir().join("include");
    let source = crate_dir().join("tests/c/header_compiles.c");
    let output = Command::new(compiler)
        .args(args)
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(&include_dir)
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        output.status.success(),
        "{compiler} {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The program checks the initializer at run time.
    let run = Command::new(&out)
        .status()
        .expect("run the compiled header check");
    let _ = std::fs::remove_file(&out);
    assert!(
        run.success(),
        "OTC_SESSION_CALLBACKS_INIT did not give a zeroed struct with its size set"
    );
}

#[test]
fn header_compiles_as_c99() {
    compile("gcc", &["-std=c99"]);
}

#[test]
fn header_compiles_as_cplusplus() {
    compile("g++", &["-x", "c++", "-std=c++11"]);
}
