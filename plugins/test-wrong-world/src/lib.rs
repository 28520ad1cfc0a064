//! Test guest: a component of some other world.
//! Only meaningful as a wasm component; empty on native builds.
#![cfg(target_arch = "wasm32")]
wit_bindgen::generate!({ path: "wit", world: "test:other/greeter" });

struct Greeter;

impl Guest for Greeter {
    fn hello() -> String {
        "hello".into()
    }
}

export!(Greeter);
