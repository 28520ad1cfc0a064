//! Sharing plugins through a real OCI registry: Debian's `docker-registry`
//! (the CNCF distribution registry) started by each test on a loopback port
//! with its own storage folder, stopped when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{self, text};

/// A registry of our own; killed on drop.
struct Registry {
    child: Child,
    port: u16,
    storage: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Start one; `htpasswd`: a line "user:bcrypt-hash" to require Basic auth.
    fn start(htpasswd: Option<&str>) -> Registry {
        let binary = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .expect(
                "docker-registry is not installed: `apt install docker-registry` \
                 (scripts/dev test installs it)",
            );
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: econ-host-test\n",
            storage.display()
        );
        if let Some(line) = htpasswd {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, format!("{line}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: econ-test\n    path: {}\n",
                file.display()
            ));
        }
        let config_file = dir.path().join("config.yml");
        std::fs::write(&config_file, config).unwrap();
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let registry = Registry {
            child,
            port,
            storage,
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "docker-registry did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn reference(&self, repository_and_tag: &str) -> String {
        format!("oci://127.0.0.1:{}/{repository_and_tag}", self.port)
    }

    fn url(&self, tail: &str) -> String {
        format!("http://127.0.0.1:{}/v2/{tail}", self.port)
    }

    /// The file the registry keeps blob `digest` in.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// econ-host with `home` as HOME (a fresh user: no plugins, no cache, no
/// Docker config) and `env` added.
fn econ_host(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(common::binary())
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("ECON_HOST_PLUGIN_DIR")
        .env_remove("DOCKER_CONFIG")
        .env_remove("ECON_HOST_REGISTRY_USERNAME")
        .env_remove("ECON_HOST_REGISTRY_PASSWORD")
        .env_remove("ECON_HOST_WIT")
        .envs(env.iter().copied())
        .output()
        .expect("running econ-host")
}

/// Run one async HTTP exchange from a plain test.
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The manifest under `repository:tag`, checked to be in the layout wkg
/// reads: a Wasm config and one application/wasm layer.
fn wasm_manifest(registry: &Registry, repository: &str, tag: &str) -> Value {
    let manifest: Value = block_on(async {
        reqwest::Client::new()
            .get(registry.url(&format!("{repository}/manifests/{tag}")))
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    manifest
}

fn publish(home: &Path, file: &Path, target: &str) -> Value {
    let out = econ_host(
        home,
        &[
            "plugins",
            "publish",
            file.to_str().unwrap(),
            target,
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "publish failed: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_plugin_published_to_a_real_registry_installs_into_a_fresh_home_and_runs() {
    let registry = Registry::start(None);
    let author = tempfile::tempdir().unwrap();
    let plugin = common::test_plugin("test-hostile-reward");
    let target = registry.reference("lab/test-hostile-reward:0.1.0");
    let published = publish(author.path(), &plugin, &target);
    let pinned = published["pinned"].as_str().unwrap().to_string();
    assert!(pinned.contains("@sha256:"), "{published}");
    assert_eq!(
        published["sha256"].as_str().unwrap(),
        &sha256(&std::fs::read(&plugin).unwrap())["sha256:".len()..]
    );

    // The artifact is in the layout wkg reads.
    let manifest = wasm_manifest(&registry, "lab/test-hostile-reward", "0.1.0");
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.title"],
        "test-hostile-reward"
    );

    // A fresh user installs it by tag into the user plugin folder ...
    let user = tempfile::tempdir().unwrap();
    let out = econ_host(user.path(), &["plugins", "install", &target], &[]);
    assert!(out.status.success(), "install failed: {}", text(&out));
    assert!(text(&out).contains(&pinned), "{}", text(&out));
    let installed = user
        .path()
        .join(".local/share/econ-host/plugins/test-hostile-reward.wasm");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(&plugin).unwrap()
    );
    // Where it came from is kept beside it (`plugins lock` records it).
    let note = std::fs::read_to_string(installed.with_extension("installed-from")).unwrap();
    assert_eq!(note.trim(), pinned);
    // ... by digest too (unchanged: the same bytes).
    let out = econ_host(user.path(), &["plugins", "install", &pinned], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("unchanged"), "{}", text(&out));

    // And runs a simulated job with it.
    let logs = user.path().join("run");
    let out = econ_host(
        user.path(),
        &[
            "run",
            "--config",
            common::repo_root()
                .join("configs/sim.toml")
                .to_str()
                .unwrap(),
            "--train-eps",
            "4",
            "--test-eps",
            "4",
            "--modes",
            "baseline",
            "--set",
            "plugins.reward=\"test-hostile-reward\"",
            "--log-dir",
            logs.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "run failed: {}", text(&out));
    let traces = std::fs::read_to_string(logs.join("traces_test_baseline.jsonl")).unwrap();
    let first: Value = serde_json::from_str(traces.lines().next().unwrap()).unwrap();
    assert!(
        first.to_string().contains("test-hostile-reward@"),
        "the trace does not name the installed reward: {first}"
    );
}

#[test]
fn a_blob_altered_in_the_registry_is_refused_at_install() {
    let registry = Registry::start(None);
    let home = tempfile::tempdir().unwrap();
    let plugin = common::plugin_dir().join("parser-boxed.wasm");
    let bytes = std::fs::read(&plugin).unwrap();
    let target = registry.reference("lab/parser-boxed:1");
    publish(home.path(), &plugin, &target);
    let blob = registry.blob_file(&sha256(&bytes));
    let mut altered = std::fs::read(&blob).unwrap();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x01;
    std::fs::write(&blob, altered).unwrap();

    let dest = home.path().join("plugins");
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "install",
            "--dir",
            dest.to_str().unwrap(),
            &target,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("refused"), "{}", text(&out));
    assert!(!dest.join("parser-boxed.wasm").exists());

    // A digest that names another manifest is refused too.
    let wrong = registry.reference(&format!("lab/parser-boxed@sha256:{}", "0".repeat(64)));
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "install",
            "--dir",
            dest.to_str().unwrap(),
            &wrong,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// Push `component` the way wasm-pkg-tools' `wkg oci push` lays it out
/// (the CNCF Wasm OCI artifact: a config of type
/// application/vnd.wasm.config.v0+json with architecture, os, layerDigests
/// and the component's imports and exports; one application/wasm layer; no
/// annotations), over the raw distribution API.
fn push_like_wkg(registry: &Registry, repository: &str, tag: &str, component: &[u8]) {
    let http = reqwest::Client::new();
    let layer_digest = sha256(component);
    let config = serde_json::to_vec(&json!({
        "created": "2026-01-01T00:00:00Z",
        "author": null,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
        "component": {"exports": ["econ:plugins/parser@0.2.0"], "imports": [], "target": null},
    }))
    .unwrap();
    block_on(async {
        for blob in [component, &config[..]] {
            let started = http
                .post(registry.url(&format!("{repository}/blobs/uploads/")))
                .send()
                .await
                .unwrap();
            assert_eq!(started.status().as_u16(), 202);
            let location = started.headers()["location"].to_str().unwrap().to_string();
            let location = if location.starts_with("http") {
                location
            } else {
                format!("http://127.0.0.1:{}{location}", registry.port)
            };
            let sep = if location.contains('?') { '&' } else { '?' };
            let done = http
                .put(format!("{location}{sep}digest={}", sha256(blob)))
                .header("Content-Type", "application/octet-stream")
                .body(blob.to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(done.status().as_u16(), 201);
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.wasm.config.v0+json",
                       "digest": sha256(&config), "size": config.len()},
            "layers": [{"mediaType": "application/wasm", "digest": layer_digest,
                        "size": component.len()}],
        });
        let put = http
            .put(registry.url(&format!("{repository}/manifests/{tag}")))
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(serde_json::to_vec(&manifest).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status().as_u16(), 201);
    });
}

#[test]
fn an_artifact_in_wkgs_layout_installs() {
    let registry = Registry::start(None);
    let home = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(common::plugin_dir().join("parser-math.wasm")).unwrap();
    push_like_wkg(&registry, "wasi-pkg/parser-math", "0.2.0", &bytes);
    let dest = home.path().join("plugins");
    let target = registry.reference("wasi-pkg/parser-math:0.2.0");
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "install",
            "--dir",
            dest.to_str().unwrap(),
            &target,
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(dest.join("parser-math.wasm")).unwrap(), bytes);
}

/// "econ" / "registry-s3cret", bcrypt (cost 5).
const HTPASSWD: &str = include_str!("oci_htpasswd.txt");

#[test]
fn a_registry_that_asks_for_credentials_gets_them_from_the_environment_never_printed() {
    let registry = Registry::start(Some(HTPASSWD.trim()));
    let home = tempfile::tempdir().unwrap();
    let plugin = common::plugin_dir().join("parser-json.wasm");
    let file = plugin.to_str().unwrap();
    let target = registry.reference("lab/parser-json:1");
    let out = econ_host(home.path(), &["plugins", "publish", file, &target], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("docker login"), "{}", text(&out));

    let wrong = [
        ("ECON_HOST_REGISTRY_USERNAME", "econ"),
        ("ECON_HOST_REGISTRY_PASSWORD", "not-the-password"),
    ];
    let out = econ_host(home.path(), &["plugins", "publish", file, &target], &wrong);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("not-the-password"), "{}", text(&out));

    let right = [
        ("ECON_HOST_REGISTRY_USERNAME", "econ"),
        ("ECON_HOST_REGISTRY_PASSWORD", "registry-s3cret"),
    ];
    let out = econ_host(home.path(), &["plugins", "publish", file, &target], &right);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("registry-s3cret"));
    // Docker's config works as well as the environment.
    let docker = home.path().join(".docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        json!({"auths": {format!("127.0.0.1:{}", registry.port):
               {"auth": "ZWNvbjpyZWdpc3RyeS1zM2NyZXQ="}}})
        .to_string(),
    )
    .unwrap();
    let dest = home.path().join("plugins");
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "install",
            "--dir",
            dest.to_str().unwrap(),
            &target,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(dest.join("parser-json.wasm").is_file());
}

/// The plugin interface as a package: `plugins wit publish` pushes the WIT
/// package (encoded as `wkg wit build` does) under its version; `plugins
/// new --lang python --wit` fetches it into the project, which then builds
/// with componentize-py and passes `plugins check`; `plugins wit fetch`
/// refuses a plugin, an altered blob and a version the host cannot serve,
/// and writes nothing when it refuses.
#[test]
fn the_wit_package_is_published_fetched_into_a_new_project_and_builds() {
    let registry = Registry::start(None);
    let home = tempfile::tempdir().unwrap();
    let target = registry.reference(&format!("econ/plugins:{}", econ_host::plugins::WIT_VERSION));
    let out = econ_host(
        home.path(),
        &["plugins", "wit", "publish", &target, "--json"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let published: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pinned = published["pinned"].as_str().unwrap().to_string();
    // In the layout wkg reads.
    let manifest = wasm_manifest(&registry, "econ/plugins", econ_host::plugins::WIT_VERSION);
    // A version this host does not hold is not published under any tag.
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "wit",
            "publish",
            &registry.reference("econ/plugins:9.9.9"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("this host holds econ:plugins"),
        "{}",
        text(&out)
    );

    // A new Python project takes its WIT from the registry, and builds.
    let projects = tempfile::tempdir().unwrap();
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "new",
            "reward",
            "py-fetched",
            "--lang",
            "python",
            "--dir",
            projects.path().to_str().unwrap(),
            "--wit",
            &target,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let project = projects.path().join("py-fetched");
    let wit = std::fs::read_to_string(project.join("wit/econ-plugins.wit")).unwrap();
    assert!(
        wit.starts_with(&format!(
            "// econ:plugins@{} from {pinned}",
            econ_host::plugins::WIT_VERSION
        )),
        "{wit}"
    );
    assert!(wit.contains("world reward"), "{wit}");
    {
        let _alone = common::cpu_heavy_or_timed();
        let out = Command::new(project.join("build.sh"))
            .current_dir(&project)
            .output()
            .unwrap();
        assert!(out.status.success(), "build.sh\n{}", text(&out));
    }
    let wasm = project.join("py-fetched.wasm");
    let out = econ_host(
        home.path(),
        &["plugins", "check", wasm.to_str().unwrap(), "--json"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["kind"], "reward");

    // ECON_HOST_WIT is the default for Python and JS; a Rust crate, which
    // takes its WIT from econ-plugin-sdk, ignores it.
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "new",
            "reward",
            "py-env",
            "--lang",
            "python",
            "--dir",
            projects.path().to_str().unwrap(),
        ],
        &[("ECON_HOST_WIT", &target)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let wit = std::fs::read_to_string(projects.path().join("py-env/wit/econ-plugins.wit")).unwrap();
    assert!(
        wit.contains(&format!("// Refresh: econ-host plugins wit fetch {target}")),
        "{wit}"
    );
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "new",
            "reward",
            "rs_env",
            "--dir",
            projects.path().to_str().unwrap(),
        ],
        &[("ECON_HOST_WIT", &target)],
    );
    assert!(out.status.success(), "{}", text(&out));

    // The frozen 0.1.0 publishes and fetches, but no 0.2 template is
    // written against it.
    let old = registry.reference("econ/plugins:0.1.0");
    let out = econ_host(home.path(), &["plugins", "wit", "publish", &old], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out_dir = home.path().join("old-wit");
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "wit",
            "fetch",
            &old,
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let fetched = std::fs::read_to_string(out_dir.join("econ-plugins.wit")).unwrap();
    assert!(fetched.contains("package econ:plugins@0.1.0;"), "{fetched}");
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "new",
            "reward",
            "py-old",
            "--lang",
            "python",
            "--dir",
            projects.path().to_str().unwrap(),
            "--wit",
            &old,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!projects.path().join("py-old").exists());

    // A registry that serves another package under a version this host
    // holds is not believed, nor a version tag holding another version.
    let held = econ_host::share::wit::held(econ_host::plugins::WIT_VERSION).unwrap();
    let changed = held.text.replace(
        "/// Types shared by every world.",
        "/// Types shared by every world (and a change).",
    );
    assert_ne!(changed, held.text);
    let bytes = econ_host::share::wit::encode(&changed).unwrap();
    push_like_wkg(
        &registry,
        "evil/plugins",
        econ_host::plugins::WIT_VERSION,
        &bytes,
    );
    let evil = registry.reference(&format!("evil/plugins:{}", econ_host::plugins::WIT_VERSION));
    let out_dir = home.path().join("evil-wit");
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "wit",
            "fetch",
            &evil,
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("differs from the one this host"),
        "{}",
        text(&out)
    );
    assert!(!out_dir.join("econ-plugins.wit").exists());
    let old_bytes =
        econ_host::share::wit::encode(&econ_host::share::wit::held("0.1.0").unwrap().text).unwrap();
    push_like_wkg(&registry, "evil/plugins", "0.2.9", &old_bytes);
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "wit",
            "fetch",
            &registry.reference("evil/plugins:0.2.9"),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("the tag 0.2.9 holds econ:plugins@0.1.0"),
        "{}",
        text(&out)
    );

    // A plugin is not a WIT package; an altered blob is refused.
    let plugin = common::plugin_dir().join("parser-boxed.wasm");
    let plugin_ref = registry.reference("lab/parser-boxed:1");
    publish(home.path(), &plugin, &plugin_ref);
    let refused = home.path().join("refused");
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "wit",
            "fetch",
            &plugin_ref,
            "--out",
            refused.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not a WIT package"), "{}", text(&out));
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let blob = registry.blob_file(layer);
    let mut altered = std::fs::read(&blob).unwrap();
    let last = altered.len() - 1;
    altered[last] ^= 0x01;
    std::fs::write(&blob, altered).unwrap();
    let out = econ_host(
        home.path(),
        &[
            "plugins",
            "wit",
            "fetch",
            &target,
            "--out",
            refused.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("refused"), "{}", text(&out));
    assert!(!refused.join("econ-plugins.wit").exists());
}
