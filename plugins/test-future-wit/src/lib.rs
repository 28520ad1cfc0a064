//! Test guest: claims a WIT major version this host does not serve.
//! Only meaningful as a wasm component; empty on native builds.
#![cfg(target_arch = "wasm32")]
wit_bindgen::generate!({ path: "wit", world: "econ:plugins/answer-parser@1.0.0" });

struct Future;

impl Guest for Future {
    fn meta() -> String {
        "from the future".into()
    }
}

impl exports::econ::plugins::parser::Guest for Future {
    fn extract(texts: Vec<String>) -> Vec<String> {
        texts
    }
}

export!(Future);
