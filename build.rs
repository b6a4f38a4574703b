//! Makes the binaries, tests and benches find libtorch without `LD_LIBRARY_PATH` (an rpath to the
//! libtorch that `.cargo/config.toml` names) and keeps `libtorch_cuda.so` linked: the linker's
//! `--as-needed` default drops it, and CUDA then silently reports itself unavailable.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    let Some(libtorch) = std::env::var_os("LIBTORCH") else {
        println!("cargo:warning=LIBTORCH is not set: run scripts/setup.sh first");
        return;
    };
    let lib = PathBuf::from(libtorch).join("lib");
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-L{}", lib.display());
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
