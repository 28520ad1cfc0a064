//! What each subcommand does.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, ModelsCommand, PluginsCommand, RunArgs};
use crate::config::Config;
use crate::error::bad_input;
use crate::plugins::{self, Limits, Plugin, PluginEngine, PluginRegistry};

pub fn dispatch(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Run(args) => run(&cli, args),
        Command::Plugins(PluginsCommand::List { json }) => plugins_list(&cli, *json),
        Command::Plugins(PluginsCommand::Check { file, json }) => plugins_check(file, *json),
        Command::Models(ModelsCommand::List) => models_list(),
    }
}

/// Built-in folders first, then each `--plugins DIR` in order (later wins).
fn plugin_dirs(cli: &Cli) -> Result<Vec<PathBuf>> {
    let mut dirs = plugins::default_plugin_dirs();
    for dir in &cli.plugin_dirs {
        if !dir.is_dir() {
            return Err(bad_input(anyhow::anyhow!(
                "--plugins {}: not a folder",
                dir.display()
            )));
        }
        dirs.push(dir.clone());
    }
    Ok(dirs)
}

fn load_registry(cli: &Cli) -> Result<PluginRegistry> {
    let engine = PluginEngine::new(plugins::default_cache_dir())?;
    PluginRegistry::load(&engine, &plugin_dirs(cli)?, Limits::default())
}

fn run(cli: &Cli, args: &RunArgs) -> Result<()> {
    let config = Config::load(&args.config, &args.overrides).map_err(bad_input)?;
    let registry = load_registry(cli)?;
    if args.train_eps > 0 {
        tracing::warn!(
            "training arrives with the learner; --train-eps {} ignored",
            args.train_eps
        );
    }
    let summary = crate::smoke::run(&config, &registry, args.test_eps)?;
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("creating log folder {}", args.log_dir.display()))?;
    let json = serde_json::to_string_pretty(&summary)?;
    let path = args.log_dir.join("summary.json");
    std::fs::write(&path, &json).with_context(|| format!("writing {}", path.display()))?;
    if args.json {
        println!("{json}");
        return Ok(());
    }
    println!("plugins: {}", summary.plugins.join(", "));
    println!("model: {}", summary.model);
    println!("networks on: {:?}", crate::torch_device());
    for r in &summary.results {
        println!(
            "{}: answer {:?} ({}), reference {}, {} in {:.1}s, {} tokens",
            r.id,
            r.answer.as_deref().unwrap_or("-"),
            r.parse_method,
            r.reference,
            if r.correct { "correct" } else { "wrong" },
            r.wall_ms as f64 / 1000.0,
            r.completion_tokens
        );
    }
    println!(
        "Foundation pass (one round, no BNE): {}/{} = {:.1}%",
        summary.correct,
        summary.episodes,
        summary.accuracy * 100.0
    );
    Ok(())
}

fn plugins_list(cli: &Cli, json: bool) -> Result<()> {
    let registry = load_registry(cli)?;
    let infos: Vec<_> = registry.plugins().map(|p| p.info().clone()).collect();
    if json {
        let out = serde_json::json!({
            "plugins": infos,
            "shadowed": registry.shadowed(),
            "failures": registry.failures(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<16} {:<9} {:<6} SOURCE",
        "NAME", "KIND", "VERSION", "WIT"
    );
    for i in &infos {
        println!(
            "{:<20} {:<16} {:<9} {:<6} {}",
            i.name,
            i.kind.to_string(),
            i.version,
            i.wit_version,
            i.file.display()
        );
    }
    for s in registry.shadowed() {
        println!(
            "(overridden) {}@{} from {}",
            s.name,
            s.version,
            s.file.display()
        );
    }
    for f in registry.failures() {
        println!("(failed) {}: {}", f.file.display(), f.error);
    }
    Ok(())
}

fn plugins_check(file: &std::path::Path, json: bool) -> Result<()> {
    let engine = PluginEngine::new(None)?;
    let source = file.parent().unwrap_or(std::path::Path::new("."));
    let plugin = Plugin::load(&engine, file, source, Limits::default()).map_err(bad_input)?;
    let info = plugin.info();
    if json {
        println!("{}", serde_json::to_string_pretty(&**info)?);
    } else {
        println!("{}: ok", file.display());
        println!(
            "  world    {}/{}@{}",
            plugins::WIT_PACKAGE,
            info.kind,
            info.wit_version
        );
        println!("  name     {}", info.name);
        println!("  version  {}", info.version);
        println!("  about    {}", info.description);
        if !info.author.is_empty() {
            println!("  author   {}", info.author);
        }
        println!("  sha256   {}", info.sha256);
    }
    Ok(())
}

fn models_list() -> Result<()> {
    let dir = crate::models::cache_dir();
    for (name, spec) in crate::models::catalogue()? {
        let state = if dir.join(&spec.file).exists() {
            "fetched"
        } else {
            "missing"
        };
        println!(
            "{name:<18} {:>6.0} MB  {state:<8} {}",
            spec.size as f64 / 1e6,
            spec.description
        );
    }
    println!("cache: {}", dir.display());
    Ok(())
}
