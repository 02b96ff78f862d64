#!/usr/bin/env bash
# The C library as it ships: target/release/libotc_session.so and libotc_session.a (size-optimised, LTO,
# stripped), with include/otc_session.h.
#
# Built with `cargo rustc` and only the C crate types. `cargo build --release` also emits the Rust rlib
# (the tests, the bench and the demo link it), and with an rlib among its outputs rustc must keep every
# Rust symbol of the crate exported: LTO can then neither internalize nor drop them, and the cdylib is
# ~0.4 MB larger (2.14 MiB against 1.74 MiB on 2026-12-06), with the same exported C functions.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo rustc --release -p otc-session --lib --crate-type cdylib,staticlib
ls -l target/release/libotc_session.so target/release/libotc_session.a
