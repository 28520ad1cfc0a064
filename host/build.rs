// tch links libtorch dynamically but sets no rpath, so the binary and every test
// binary would need LD_LIBRARY_PATH. torch-sys exports the library folder it
// linked against (links = "tch" -> DEP_TCH_LIBTORCH_LIB); bake it in.
fn main() {
    wit_version();
    git_commit();
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}

include!("../wit/version.rs");

// The WIT package version, for the host's bindings and messages.
fn wit_version() {
    emit_wit_version(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../wit/econ-plugins.wit"
    ));
}

// The commit the binary was built from, for run.json (none outside a git
// checkout, e.g. a source tarball).
fn git_commit() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    println!("cargo:rerun-if-changed={root}/.git/HEAD");
    println!("cargo:rerun-if-changed={root}/.git/refs/heads");
    let commit = std::process::Command::new("git")
        .args(["-C", root, "rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=ECON_GIT_COMMIT={commit}");
}
