// tch links libtorch dynamically but sets no rpath, so the binary and every test
// binary would need LD_LIBRARY_PATH. torch-sys exports the library folder it
// linked against (links = "tch" -> DEP_TCH_LIBTORCH_LIB); bake it in.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
