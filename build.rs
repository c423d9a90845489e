//! Links the crate's own binaries, tests, examples and the cdylib so they run
//! without LD_LIBRARY_PATH: an rpath to libtorch's lib/ directory, and
//! libtorch_cuda linked for real when present (tch alone lets the linker's
//! --as-needed drop it, and CUDA then silently reports unavailable).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // torch-sys (links = "tch") publishes where it found libtorch.
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report its libtorch lib dir; no rpath set");
        return;
    };
    let lib_dir = PathBuf::from(lib_dir);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    println!("cargo:rustc-env=SLOTRT_LIBTORCH_LIB={}", lib_dir.display());

    if lib_dir.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{}", lib_dir.display());
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
        println!("cargo:rustc-cfg=slotrt_linked_cuda");
    }
    println!("cargo::rustc-check-cfg=cfg(slotrt_linked_cuda)");
}
