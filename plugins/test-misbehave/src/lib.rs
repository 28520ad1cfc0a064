//! A deliberately bad answer parser for the host's tests: the text it is asked
//! to parse says how to misbehave ("loop", "trap", "oom", "sleep", "flood" on
//! stderr, "print" and answer) or which capability to probe ("env", "args",
//! "file", "net"); anything else is echoed back.
//! Only meaningful as a wasm component; empty on native builds.
#![cfg(target_arch = "wasm32")]
use econ_plugin_sdk::answer_parser::*;

/// The hot-reload test builds this guest twice to get two versions.
const VERSION: &str = match option_env!("ECON_TEST_PLUGIN_VERSION") {
    Some(v) => v,
    None => "0.1.0",
};

struct Misbehave;

impl AnswerParser for Misbehave {
    fn manifest() -> Manifest {
        Manifest::new(
            "test-misbehave",
            VERSION,
            "loops, traps or eats memory on request",
        )
    }

    fn extract(text: &str, _: &Options) -> Extraction {
        match text {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "trap" => panic!("asked to trap"),
            "oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "version" => answer(VERSION.to_string()),
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                answer("woke".into())
            }
            "print" => {
                println!("debug print on stdout");
                eprintln!("debug print on stderr");
                answer("printed".into())
            }
            "flood" => loop {
                eprintln!("{}", "flood ".repeat(1000));
            },
            // What the sandbox lets a guest see: the tests expect nothing.
            "env" => answer(std::env::vars().count().to_string()),
            "args" => answer(std::env::args().count().to_string()),
            "file" => answer(std::fs::read_dir("/").is_ok().to_string()),
            "net" => answer(
                std::net::TcpStream::connect("127.0.0.1:9")
                    .is_ok()
                    .to_string(),
            ),
            other => Extraction {
                answer: Some(other.to_string()),
                method: "echo".into(),
            },
        }
    }

    fn equivalent(reference: &str, candidate: &str, _: &Options) -> bool {
        reference == candidate
    }
}

fn answer(text: String) -> Extraction {
    Extraction {
        answer: Some(text),
        method: "probe".into(),
    }
}

econ_plugin_sdk::answer_parser!(Misbehave);
