//! `econ:plugins@0.1.x`, kept so that plugins built for it load and run
//! unchanged. Its records are those of 0.2 (0.2 added `option-specs` and an
//! options argument, nothing else), so the types interface is mapped onto the
//! latest one with `with:` and the host passes the same values to both; these
//! bindings are used to check a 0.1 component against its world and to read
//! its `meta()`. The calls themselves go through `handles.rs`, which leaves
//! the options out for a 0.1 guest.

use super::since_v0_2_0 as latest;

pub mod reward {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "econ:plugins/reward",
        with: { "econ:plugins/types": super::latest::reward::econ::plugins::types },
    });
}

pub mod dataset_adapter {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "econ:plugins/dataset-adapter",
        with: { "econ:plugins/types": super::latest::reward::econ::plugins::types },
    });
}

pub mod prompt_template {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "econ:plugins/prompt-template",
        with: { "econ:plugins/types": super::latest::reward::econ::plugins::types },
    });
}

pub mod answer_parser {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "econ:plugins/answer-parser",
        with: { "econ:plugins/types": super::latest::reward::econ::plugins::types },
    });
}
