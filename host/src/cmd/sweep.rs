//! `econ-host sweep`: one config over arms × a grid of `--set` values ×
//! seeds. Every run is this binary's own `run` in a process of its own (a
//! crash or a bad cell ends that run only), several at once; the table of
//! report/sweep.rs is written when they are done.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::{Cli, SweepArgs};
use crate::error::bad_input;
use crate::report::sweep::{self, Sweep, SweepCell, SweepRun};

/// Cells: each arm (name, overrides) with every combination of grid values.
fn cells(args: &SweepArgs) -> Result<Vec<(String, Vec<String>)>> {
    let mut arms: Vec<(String, Vec<String>)> = Vec::new();
    for arm in &args.arm {
        // NAME@FILE: the learner of another config file, on this world.
        if let Some((name, file)) = arm.split_once('@').filter(|(n, _)| !n.contains(':')) {
            let sets = crate::config::learner_overrides(Path::new(file.trim()))
                .with_context(|| format!("--arm {arm:?}"))?;
            arms.push((name.trim().to_string(), sets));
            continue;
        }
        let (name, sets) = arm
            .split_once(':')
            .ok_or_else(|| anyhow!("--arm {arm:?}: expected NAME: KEY=VALUE ... or NAME@FILE"))?;
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bail!("--arm {arm:?}: the name must be letters, digits, '-', '_' or '.'");
        }
        let sets: Vec<String> = sets.split_whitespace().map(str::to_string).collect();
        if let Some(bad) = sets.iter().find(|s| !s.contains('=')) {
            bail!("--arm {name}: {bad:?} is not KEY=VALUE");
        }
        arms.push((name.to_string(), sets));
    }
    if arms.is_empty() {
        arms.push(("config".to_string(), Vec::new()));
    }
    let mut out = arms;
    for grid in &args.grid {
        let (key, values) = grid
            .split_once('=')
            .ok_or_else(|| anyhow!("--grid {grid:?}: expected KEY=V1,V2,..."))?;
        let values: Vec<&str> = values.split(',').filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            bail!("--grid {grid:?}: no values");
        }
        out = out
            .into_iter()
            .flat_map(|(name, sets)| {
                values.iter().map(move |v| {
                    let mut sets = sets.clone();
                    sets.push(format!("{key}={v}"));
                    (format!("{name},{key}={v}"), sets)
                })
            })
            .collect();
    }
    Ok(out)
}

/// A folder name for a cell: its index and its name with only safe characters.
fn folder(i: usize, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.=".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    format!("{i:02}-{safe}")
}

pub(super) fn sweep(cli: &Cli, args: &SweepArgs) -> Result<()> {
    let cells = cells(args).map_err(bad_input)?;
    if args.seeds.is_empty() {
        return Err(bad_input(anyhow!("--seeds: at least one seed")));
    }
    // Every cell's config must load before anything runs.
    for (name, sets) in &cells {
        let mut all = args.overrides.clone();
        all.extend(sets.iter().cloned());
        crate::config::Config::load(&args.config, &all)
            .map_err(bad_input)
            .with_context(|| format!("cell {name}"))?;
    }
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("creating {}", args.log_dir.display()))?;
    let exe = std::env::current_exe().context("finding this program's path")?;
    let mut planned: Vec<SweepCell> = cells
        .iter()
        .enumerate()
        .map(|(i, (name, sets))| {
            let mut overrides = args.overrides.clone();
            overrides.extend(sets.iter().cloned());
            SweepCell {
                name: name.clone(),
                overrides,
                runs: args
                    .seeds
                    .iter()
                    .map(|&seed| SweepRun {
                        seed,
                        dir: PathBuf::from(folder(i, name)).join(format!("seed-{seed}")),
                        error: None,
                    })
                    .collect(),
            }
        })
        .collect();
    let jobs: Vec<(usize, usize)> = (0..planned.len())
        .flat_map(|c| (0..args.seeds.len()).map(move |r| (c, r)))
        .collect();
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let queue = Mutex::new(jobs.into_iter());
    let errors: Mutex<Vec<((usize, usize), String)>> = Mutex::new(Vec::new());
    let total = planned.len() * args.seeds.len();
    let done = Mutex::new(0usize);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(total) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((c, r)) = next else { break };
                    let cell = &planned[c];
                    let run = &cell.runs[r];
                    let kept = args
                        .resume
                        .then(|| finished_before(cli, args, cell, run))
                        .flatten();
                    let result = match kept {
                        Some(_) => Ok(()),
                        None if args.resume => set_aside(&args.log_dir.join(&run.dir))
                            .and_then(|()| one_run(cli, args, &exe, cell, run)),
                        None => one_run(cli, args, &exe, cell, run),
                    };
                    let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
                    *d += 1;
                    let status = match (&result, kept) {
                        (Ok(()), Some(note)) => note,
                        (Ok(()), None) => "done".to_string(),
                        (Err(e), _) => format!("FAILED: {e:#}"),
                    };
                    eprintln!("[{}/{total}] {} seed {}: {status}", *d, cell.name, run.seed);
                    if let Err(e) = result {
                        errors
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(((c, r), format!("{e:#}")));
                    }
                }
            });
        }
    });
    for ((c, r), e) in errors.into_inner().unwrap_or_else(|e| e.into_inner()) {
        planned[c].runs[r].error = Some(e);
    }
    let rows = sweep::rows(&args.log_dir, &planned);
    let result = Sweep {
        config: args.config.clone(),
        train_eps: args.train_eps,
        cells: planned,
        rows,
    };
    let json = serde_json::to_string_pretty(&result)?;
    crate::atomic::write_atomic(&args.log_dir.join(sweep::SWEEP_FILE), json.as_bytes())?;
    let table = sweep::markdown(&result);
    crate::atomic::write_atomic(&args.log_dir.join(sweep::TABLE_FILE), table.as_bytes())?;
    if args.json {
        println!("{json}");
    } else {
        print!("{table}");
        println!(
            "written: {}",
            args.log_dir.join(sweep::SWEEP_FILE).display()
        );
    }
    let failed = result
        .cells
        .iter()
        .flat_map(|c| &c.runs)
        .filter(|r| r.error.is_some())
        .count();
    if failed > 0 {
        bail!("{failed} of {total} runs failed (their logs are in the sweep's folder)");
    }
    Ok(())
}

/// The `econ-host run` arguments of a cell at a seed (after the program
/// and the global `--plugins`): run.json records them as its command.
fn run_args(args: &SweepArgs, cell: &SweepCell, run: &SweepRun) -> Vec<String> {
    let dir = args.log_dir.join(&run.dir);
    let mut out: Vec<String> = vec![
        "run".into(),
        "--config".into(),
        args.config.display().to_string(),
        "--train-eps".into(),
        args.train_eps.to_string(),
        "--log-dir".into(),
        dir.display().to_string(),
        "--force".into(),
        "--json".into(),
    ];
    if let Some(m) = args.test_eps {
        out.extend(["--test-eps".into(), m.to_string()]);
    }
    let modes: Vec<String> = args
        .modes
        .iter()
        .map(|m| format!("{m:?}").to_lowercase())
        .collect();
    out.extend(["--modes".into(), modes.join(",")]);
    out.extend(["--set".into(), format!("seed={}", run.seed)]);
    for set in &cell.overrides {
        out.extend(["--set".into(), set.clone()]);
    }
    out
}

/// `--resume`: the run's folder holds a finished run of the same command
/// line whose config (the file as it reads now, with the cell's overrides
/// and seed) is unchanged. Returns the progress line's status; a run from
/// another build of econ-host is kept and its commit said on the progress line.
fn finished_before(
    cli: &Cli,
    args: &SweepArgs,
    cell: &SweepCell,
    run: &SweepRun,
) -> Option<String> {
    let dir = args.log_dir.join(&run.dir);
    let record = crate::runlog::provenance::read_run_record(&dir).ok()??;
    record.finished.as_ref()?;
    if !dir.join(crate::runlog::SUMMARY_FILE).is_file() {
        return None;
    }
    let wanted = run_args(args, cell, run);
    let recorded = record.command.iter().skip(1);
    let global = 2 * cli.plugin_dirs.len();
    if recorded.clone().count() != global + wanted.len() || !recorded.skip(global).eq(wanted.iter())
    {
        return None;
    }
    let mut sets = cell.overrides.clone();
    sets.push(format!("seed={}", run.seed));
    let config = crate::config::Config::load(&args.config, &sets).ok()?;
    let (_, sha) = crate::runlog::provenance::config_fingerprint(&config);
    if sha != record.config_sha256 {
        return None;
    }
    let this = env!("ECON_GIT_COMMIT");
    Some(if record.git_commit == this {
        "kept (finished before)".to_string()
    } else {
        format!(
            "kept (finished before, by econ-host {} at commit {})",
            record.econ_host_version,
            record.git_commit.chars().take(12).collect::<String>()
        )
    })
}

/// `--resume` runs a cell again whose folder holds another or an unfinished
/// run: that folder moves to `seed-N.before-K` (nothing is deleted).
fn set_aside(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    let free = (1..)
        .map(|k| dir.with_file_name(format!("{name}.before-{k}")))
        .find(|d| !d.exists())
        .expect("a free name");
    std::fs::rename(dir, &free)
        .with_context(|| format!("moving {} to {}", dir.display(), free.display()))?;
    eprintln!(
        "{}: not this cell's finished run; moved to {}",
        dir.display(),
        free.display()
    );
    Ok(())
}

/// One `econ-host run` of a cell at a seed; its stderr goes to `run.log`
/// beside the run's folder.
fn one_run(
    cli: &Cli,
    args: &SweepArgs,
    exe: &Path,
    cell: &SweepCell,
    run: &SweepRun,
) -> Result<()> {
    let dir = args.log_dir.join(&run.dir);
    std::fs::create_dir_all(dir.parent().unwrap_or(&args.log_dir))?;
    let log = args.log_dir.join(run.dir.with_extension("log"));
    let stderr =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut cmd = Command::new(exe);
    for plugins in &cli.plugin_dirs {
        cmd.arg("--plugins").arg(plugins);
    }
    cmd.args(run_args(args, cell, run));
    let status = cmd
        .stdout(Stdio::null())
        .stderr(stderr)
        .status()
        .with_context(|| format!("starting {}", exe.display()))?;
    if !status.success() {
        bail!(
            "exit {} (see {})",
            status.code().unwrap_or(-1),
            log.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> SweepArgs {
        let mut argv = vec!["econ-host", "sweep", "--config", "c.toml", "--log-dir", "d"];
        argv.extend(extra);
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Sweep(a) => a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn arms_times_grid_make_the_cells() {
        let a = args(&[
            "--arm",
            "ref: mixer.kind=attention bne.critic_veto=false",
            "--arm",
            "ours:",
            "--grid",
            "n_agents=3,5",
        ]);
        let c = cells(&a).unwrap();
        let names: Vec<&str> = c.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "ref,n_agents=3",
                "ref,n_agents=5",
                "ours,n_agents=3",
                "ours,n_agents=5"
            ]
        );
        assert_eq!(
            c[1].1,
            [
                "mixer.kind=attention",
                "bne.critic_veto=false",
                "n_agents=5"
            ]
        );
        assert_eq!(folder(3, "ref,n_agents=5"), "03-ref_n_agents=5");
        assert!(cells(&args(&["--arm", "no colon"])).is_err());
        assert!(cells(&args(&["--grid", "k="])).is_err());
    }
}
