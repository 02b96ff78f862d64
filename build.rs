//! Generates the C header from `src/ffi/` with cbindgen.
//!
//! The header is always written to `$OUT_DIR/otc_session.h` (that copy is what `tests/header.rs`
//! compares with the committed `include/otc_session.h`). The committed copy is rewritten when it is
//! missing or when `OTC_UPDATE_HEADER=1` is set: `OTC_UPDATE_HEADER=1 cargo build` after changing the
//! C API, then commit the header. Without the variable a stale header only gets a build warning, so the
//! test (and CI) catches an API change whose header was not regenerated.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=OTC_UPDATE_HEADER");

    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");

    let bindings = match cbindgen::Builder::new()
        // Only the C layer: the rest of the crate has nothing to export and is not parsed.
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .with_config(config)
        .generate()
    {
        Ok(bindings) => bindings,
        Err(e) => {
            // A syntax error in the sources: let rustc report it instead of failing here.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            return;
        }
    };
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    std::fs::write(out_dir.join("otc_session.h"), &generated).expect("OUT_DIR is writable");

    let committed_path = crate_dir.join("include/otc_session.h");
    let committed = std::fs::read(&committed_path).ok();
    let update = std::env::var("OTC_UPDATE_HEADER")
        .map(|v| v == "1")
        .unwrap_or(false);
    if committed.as_deref() == Some(generated.as_slice()) {
        return;
    }
    if update || committed.is_none() {
        std::fs::create_dir_all(crate_dir.join("include")).expect("include/ is creatable");
        std::fs::write(&committed_path, &generated).expect("include/otc_session.h is writable");
    } else {
        println!("cargo:warning=include/otc_session.h is stale: run `OTC_UPDATE_HEADER=1 cargo build` and commit it");
    }
}
