//! `econ-host plugins list|check|new|install|publish`.

use std::path::PathBuf;

use anyhow::Result;

use super::load_registry;
use crate::cli::Cli;
use crate::error::bad_input;
use crate::error::printable as p;
use crate::plugins::{Limits, Plugin, PluginEngine};

pub(super) fn plugins_list(cli: &Cli, json: bool) -> Result<()> {
    let registry = load_registry(cli)?;
    let infos: Vec<_> = registry.plugins().map(|p| p.info().clone()).collect();
    if json {
        // Each plugin's info plus `origin`: built-in, user or --plugins.
        let with_origin = |i: &crate::plugins::PluginInfo| -> Result<serde_json::Value> {
            let mut v = serde_json::to_value(i)?;
            v["origin"] = crate::plugins::folder_origin(&i.source).into();
            Ok(v)
        };
        let out = serde_json::json!({
            "plugins": infos.iter().map(|i| with_origin(i)).collect::<Result<Vec<_>>>()?,
            "shadowed": registry.shadowed().iter().map(|i| with_origin(i)).collect::<Result<Vec<_>>>()?,
            "failures": registry.failures(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<16} {:<9} {:<6} {:<10} FILE",
        "NAME", "KIND", "VERSION", "WIT", "SOURCE"
    );
    for i in &infos {
        println!(
            "{:<20} {:<16} {:<9} {:<6} {:<10} {}",
            i.name,
            i.kind.to_string(),
            p(&i.version),
            i.wit_version,
            crate::plugins::folder_origin(&i.source),
            i.file.display()
        );
        print_options(i, "    option ");
    }
    for s in registry.shadowed() {
        let winner = registry.get(&s.name).map(|w| w.info().clone());
        println!(
            "(overridden) {}@{} ({}) from {}{}",
            s.name,
            p(&s.version),
            crate::plugins::folder_origin(&s.source),
            s.file.display(),
            winner
                .map(|w| format!(
                    ": {} from {} wins",
                    crate::plugins::folder_origin(&w.source),
                    w.file.display()
                ))
                .unwrap_or_default()
        );
    }
    for f in registry.failures() {
        println!("(failed) {}: {}", f.file.display(), p(&f.error));
    }
    Ok(())
}

pub(super) fn plugins_check(file: &std::path::Path, json: bool) -> Result<()> {
    // The compiled cache, as every other load: a recheck of an unchanged
    // file is read back instead of compiled again (a 12 MB JavaScript
    // component takes 9-27 s to compile).
    let engine = PluginEngine::new(crate::plugins::default_cache_dir())?;
    let source = file.parent().unwrap_or(std::path::Path::new("."));
    let plugin = Plugin::load(&engine, file, source, Limits::default()).map_err(bad_input)?;
    let info = plugin.info();
    if json {
        println!("{}", serde_json::to_string_pretty(&**info)?);
    } else {
        println!("{}: ok", file.display());
        println!(
            "  world    {}/{}@{}",
            crate::plugins::WIT_PACKAGE,
            info.kind,
            info.wit_version
        );
        println!("  name     {}", info.name);
        println!("  version  {}", p(&info.version));
        println!("  about    {}", p(&info.description));
        if !info.author.is_empty() {
            println!("  author   {}", p(&info.author));
        }
        println!("  sha256   {}", info.sha256);
        print_options(info, "  option   ");
    }
    Ok(())
}

/// One line per option the plugin declares: `[plugins.options.NAME]` keys.
fn print_options(info: &crate::plugins::PluginInfo, prefix: &str) {
    for o in &info.options {
        let default = if o.default.is_empty() {
            String::new()
        } else {
            format!(", default {}", p(&o.default))
        };
        println!(
            "{prefix}{} ({}{default}): {}",
            p(&o.name),
            o.kind,
            p(&o.description)
        );
    }
}

pub(super) fn plugins_new(
    kind: &str,
    name: &str,
    dir: &std::path::Path,
    sdk: Option<&std::path::Path>,
    lang: &str,
    wit: Option<&str>,
) -> Result<()> {
    use crate::scaffold::{self, Lang, ProjectWit, Sdk};
    let kind = crate::plugins::PluginKind::ALL
        .into_iter()
        .find(|k| k.world() == kind)
        .ok_or_else(|| bad_input(anyhow::anyhow!("unknown plugin kind {kind}")))?;
    let lang = Lang::parse(lang).ok_or_else(|| {
        bad_input(anyhow::anyhow!(
            "--lang {lang}: not one of {}",
            Lang::NAMES.join(", ")
        ))
    })?;
    let sdk = match lang {
        Lang::Rust => scaffold::find_sdk(sdk).map_err(bad_input)?,
        _ => Sdk::Missing,
    };
    // The name and the folder first, then the package, before anything is
    // written: a refused package leaves no project.
    scaffold::check_new(dir, name).map_err(bad_input)?;
    let (project_wit, wit_from) = match wit_source(wit, lang)? {
        None => (ProjectWit::default(), None),
        Some(source) => {
            let source = crate::share::oci::OciRef::parse(&source).map_err(bad_input)?;
            let (package, pinned) = crate::share::wit::fetch(&source).map_err(bad_input)?;
            // The templates call the functions of this host's line (0.2.x).
            if !crate::plugins::same_wit_line(&package.version, crate::plugins::WIT_VERSION) {
                return Err(bad_input(anyhow::anyhow!(
                    "--wit {pinned}: it holds {}@{}, and the project templates are written \
                     for the line of {}@{}",
                    crate::plugins::WIT_PACKAGE,
                    package.version,
                    crate::plugins::WIT_PACKAGE,
                    crate::plugins::WIT_VERSION
                )));
            }
            let file_text = crate::share::wit::file_text(
                &package,
                &source,
                &pinned,
                std::path::Path::new("wit"),
            );
            let wit = ProjectWit {
                version: package.version,
                file_text,
            };
            (wit, Some(pinned))
        }
    };
    let project = scaffold::create(dir, lang, kind, name, &sdk, &project_wit).map_err(bad_input)?;
    println!("created {kind} plugin {name} in {}", project.display());
    if let Some(pinned) = wit_from {
        println!(
            "  wit/econ-plugins.wit: {}@{} from {pinned}",
            crate::plugins::WIT_PACKAGE,
            project_wit.version
        );
    }
    let wasm = match lang {
        Lang::Rust => {
            match &sdk {
                Sdk::Given(p) | Sdk::Found(p) => println!("  econ-plugin-sdk: {}", p.display()),
                Sdk::Missing => eprintln!(
                    "warning: no econ-plugin-sdk found (not built from a checkout, none above \
                     this folder): edit the TODO in {}/Cargo.toml or run again with --sdk PATH",
                    project.display()
                ),
            }
            format!(
                "target/wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            )
        }
        _ => format!("{name}.wasm"),
    };
    println!("next:");
    println!("  cd {}", project.display());
    match lang {
        Lang::Rust => {
            println!("  cargo test                                     # its unit tests");
            println!("  cargo build --release --target wasm32-wasip2   # the plugin");
        }
        Lang::Python => {
            println!("  python3 -m unittest     # its tests, no host needed");
            println!(
                "  ./build.sh              # the plugin (componentize-py {}, fetched on first use)",
                scaffold::COMPONENTIZE_PY
            );
        }
        Lang::Js => {
            println!("  node --test             # its tests, no host needed");
            println!(
                "  ./build.sh              # the plugin (componentize-js {}, fetched on first use)",
                scaffold::COMPONENTIZE_JS
            );
        }
    }
    println!("  econ-host plugins check {wasm}");
    println!("  econ-host plugins install {wasm}");
    Ok(())
}

pub(super) fn plugins_install(
    sources: &[String],
    dir: Option<&std::path::Path>,
    force: bool,
    json: bool,
) -> Result<()> {
    use crate::plugins::install::{self, Installed};
    use crate::share::Source;
    let dest = match dir {
        Some(d) => d.to_path_buf(),
        None => crate::plugins::user_plugin_dir().ok_or_else(|| {
            bad_input(anyhow::anyhow!(
                "no user plugin folder (no home folder): pass --dir or set {}",
                crate::plugins::PLUGIN_DIR_ENV
            ))
        })?,
    };
    // Each file to install: its bytes when already downloaded.
    let mut files: Vec<(PathBuf, Option<Vec<u8>>)> = Vec::new();
    for text in sources {
        match Source::parse(text).map_err(bad_input)? {
            Source::Path(path) => {
                files.extend(
                    install::wasm_files(&path)
                        .map_err(bad_input)?
                        .into_iter()
                        .map(|f| (f, None)),
                );
            }
            Source::Oci(reference) => {
                let (bytes, pinned) = crate::share::oci::pull(&reference).map_err(bad_input)?;
                if !json {
                    println!("fetched   {pinned} ({} bytes, digest-checked)", bytes.len());
                }
                files.push((PathBuf::from(pinned.to_string()), Some(bytes)));
            }
            Source::Hf(reference) => {
                let (bytes, pinned) = crate::share::hf::pull(&reference).map_err(bad_input)?;
                if !json {
                    println!("fetched   {pinned} ({} bytes, sha256-checked)", bytes.len());
                }
                files.push((PathBuf::from(pinned.to_string()), Some(bytes)));
            }
        }
    }
    let engine = PluginEngine::new(crate::plugins::default_cache_dir())?;
    let mut refused = 0;
    let mut said = Vec::new();
    for (file, bytes) in &files {
        let outcome = match bytes {
            Some(bytes) => install::install_bytes(&engine, bytes, file, &dest, force),
            None => install::install(&engine, file, &dest, force),
        };
        // Remember where a downloaded plugin came from (`plugins lock` says
        // it); a file installed over it forgets that.
        let outcome = outcome.and_then(|done| {
            let from = bytes.is_some().then(|| file.to_string_lossy().into_owned());
            install::note_source(&done.info().file, from.as_deref())?;
            Ok(done)
        });
        if json {
            said.push(match &outcome {
                Ok(Installed::New { info }) => {
                    serde_json::json!({ "file": file, "outcome": "installed", "plugin": info })
                }
                Ok(Installed::Replaced { old, info }) => serde_json::json!({
                    "file": file, "outcome": "replaced", "plugin": info, "replaced": old
                }),
                Ok(Installed::Unchanged { info }) => {
                    serde_json::json!({ "file": file, "outcome": "unchanged", "plugin": info })
                }
                Err(e) => {
                    serde_json::json!({ "file": file, "outcome": "refused", "error": format!("{e:#}") })
                }
            });
            refused += usize::from(outcome.is_err());
            continue;
        }
        match outcome {
            Ok(Installed::New { info }) => println!(
                "installed {}@{} ({}) -> {}",
                info.name,
                p(&info.version),
                info.kind,
                info.file.display()
            ),
            Ok(Installed::Replaced { old, info }) => println!(
                "replaced  {}@{} (sha256 {}) with {}@{} (sha256 {}) -> {}",
                old.name,
                p(&old.version),
                &old.sha256[..12],
                info.name,
                p(&info.version),
                &info.sha256[..12],
                info.file.display()
            ),
            Ok(Installed::Unchanged { info }) => println!(
                "unchanged {}@{}: already installed at {}",
                info.name,
                p(&info.version),
                info.file.display()
            ),
            Err(e) => {
                refused += 1;
                eprintln!("refused   {}: {}", file.display(), p(&format!("{e:#}")));
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "files": said }))?
        );
    }
    if refused > 0 {
        return Err(bad_input(anyhow::anyhow!(
            "{refused} of {} plugin files not installed",
            files.len()
        )));
    }
    Ok(())
}

pub(super) fn plugins_publish(file: &std::path::Path, target: &str, json: bool) -> Result<()> {
    let target = crate::share::oci::OciRef::parse(target).map_err(bad_input)?;
    let engine = PluginEngine::new(crate::plugins::default_cache_dir())?;
    let bytes = crate::plugins::read_plugin_file(file).map_err(bad_input)?;
    let source = file.parent().unwrap_or(std::path::Path::new("."));
    let plugin =
        Plugin::from_bytes(&engine, &bytes, file, source, Limits::default()).map_err(bad_input)?;
    let published = crate::share::oci::publish(&engine, &plugin, bytes, &target)?;
    let info = plugin.info();
    if json {
        let out = serde_json::json!({
            "plugin": info.name, "version": info.version, "kind": info.kind,
            "sha256": info.sha256, "size": published.size,
            "reference": target.to_string(), "pinned": published.pinned.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "published {}@{} ({}, {} bytes) -> {target}",
            info.name,
            p(&info.version),
            info.kind,
            published.size
        );
        println!("  pinned  {}", published.pinned);
    }
    Ok(())
}

/// Where `plugins new` takes the WIT from: `--wit`, else $ECON_HOST_WIT for
/// a Python or JS project (a Rust crate ignores the variable: its WIT comes
/// with econ-plugin-sdk); none: this host's copy.
fn wit_source(flag: Option<&str>, lang: crate::scaffold::Lang) -> Result<Option<String>> {
    use crate::scaffold::Lang;
    let flag = flag.filter(|w| !w.is_empty()).map(str::to_string);
    if lang == Lang::Rust {
        return match flag {
            Some(_) => Err(bad_input(anyhow::anyhow!(
                "--wit: a Rust crate takes the WIT from econ-plugin-sdk; --wit is for --lang \
                 python or js"
            ))),
            None => Ok(None),
        };
    }
    Ok(flag.or_else(|| std::env::var(WIT_ENV).ok().filter(|w| !w.trim().is_empty())))
}

/// The registry reference `plugins new` fetches the WIT from by default.
pub const WIT_ENV: &str = "ECON_HOST_WIT";

pub(super) fn plugins_wit_publish(target: &str, json: bool) -> Result<()> {
    let target = crate::share::oci::OciRef::parse(target).map_err(bad_input)?;
    let (pinned, package, size) = crate::share::wit::publish(&target).map_err(bad_input)?;
    let name = format!("{}@{}", crate::plugins::WIT_PACKAGE, package.version);
    if json {
        let out = serde_json::json!({
            "package": name, "size": size,
            "reference": target.to_string(), "pinned": pinned.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("published {name} (WIT package, {size} bytes) -> {target}");
        println!("  pinned  {pinned}");
    }
    Ok(())
}

pub(super) fn plugins_wit_fetch(source: &str, out: &std::path::Path, json: bool) -> Result<()> {
    let source = crate::share::oci::OciRef::parse(source).map_err(bad_input)?;
    let (package, pinned) = crate::share::wit::fetch(&source).map_err(bad_input)?;
    let path = crate::share::wit::write_into(out, &package, &source, &pinned)?;
    let name = format!("{}@{}", crate::plugins::WIT_PACKAGE, package.version);
    if json {
        let out = serde_json::json!({
            "package": name, "file": path, "pinned": pinned.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("fetched {name} -> {}", path.display());
        println!("  pinned  {pinned}");
    }
    Ok(())
}

pub(super) fn plugins_lock(
    cli: &Cli,
    config_file: &std::path::Path,
    overrides: &[String],
    json: bool,
) -> Result<()> {
    let config = crate::config::Config::load(config_file, overrides).map_err(bad_input)?;
    let registry = super::load_registry_with(cli, config.plugins.policy())?;
    let lock = crate::share::lock::lock(&config, &registry).map_err(bad_input)?;
    let path = crate::share::lock::path_for(config_file);
    crate::share::lock::write(&path, config_file, &lock)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&lock)?);
    }
    for p in &lock.plugin {
        eprintln!(
            "locked {:<16} {}@{} (sha256 {}, {})",
            p.key,
            p.name,
            crate::error::printable(&p.version),
            &p.sha256[..12],
            p.source
        );
    }
    eprintln!("wrote {}", path.display());
    Ok(())
}
