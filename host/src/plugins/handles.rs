//! A thin typed wrapper per world: the calls the episode makes, each one
//! batched per episode and run in its own sandbox.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result};
use serde::Serialize;
use wasmtime::component::{ComponentNamedList, InstancePre, Lift, Lower};

use super::call::{Named, reported, sandboxed};
use super::engine::{Loaded, PluginEngine};
use super::lift::{BoundedChatMessage, BoundedExtraction, BoundedProblem, Export, Text, bounded};
use super::limits::{CallState, Limits, PluginPolicy};
use super::options::{DeclaredOption, check_options};
use super::wit::WitLine;
use super::worlds::{
    PluginKind, answer_parser, dataset_adapter, detect_world, prompt_template, reward,
};

/// Options as the WIT passes them: key / value text.
pub(super) type Options = [(String, String)];

/// What the exports that differ by WIT line return (wit/ calls them).
pub(super) type ScoreOut = (Result<Vec<reward::AgentReward>, Text>,);
pub(super) type ExtractOut = (Vec<BoundedExtraction>,);
pub(super) type EquivalentOut = (Vec<bool>,);

/// Everything known about one loaded plugin.
#[derive(Clone, Debug, Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub kind: PluginKind,
    pub version: String,
    /// WIT package version the component was built against.
    pub wit_version: String,
    pub description: String,
    pub author: String,
    /// The options it reads (none for a 0.1 plugin, which cannot say).
    pub options: Vec<DeclaredOption>,
    pub file: PathBuf,
    pub sha256: String,
    /// The plugin folder it was found in.
    pub source: PathBuf,
    /// The compiled artifact came from the cache (no compilation on this start).
    pub cached: bool,
}

/// A plugin as traces, logs and run.json name it: `name@version`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PluginId {
    pub name: String,
    pub version: String,
}

impl std::fmt::Display for PluginId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

impl PluginInfo {
    /// `name@version`.
    pub fn id(&self) -> PluginId {
        PluginId {
            name: self.name.clone(),
            version: self.version.clone(),
        }
    }
}

impl Named for PluginInfo {
    fn label(&self) -> String {
        format!("{} ({})", self.id(), self.file.display())
    }
}

/// A file that is not (yet) a plugin: before meta() is known.
pub(super) struct Unnamed<'a>(pub(super) &'a std::path::Path);

impl Named for Unnamed<'_> {
    fn label(&self) -> String {
        self.0.display().to_string()
    }
}

/// What every handle shares: the engine, its limits, who it is.
#[derive(Clone)]
pub(super) struct Core {
    engine: wasmtime::Engine,
    limits: Limits,
    info: Arc<PluginInfo>,
    /// The WIT line it was built for: which arguments its calls take.
    line: WitLine,
    /// Its options from the config, given on every call.
    pub(super) options: Arc<Options>,
    /// Calls that trapped, ran out of fuel or memory in a row; shared by the
    /// clones of one loaded version (a reloaded file starts again at 0).
    consecutive_failures: Arc<AtomicU32>,
}

impl Core {
    fn call<R: Send>(
        &self,
        function: &str,
        f: impl FnOnce(&mut wasmtime::Store<CallState>) -> wasmtime::Result<R> + Send,
    ) -> Result<R> {
        let failed = self.consecutive_failures.load(Ordering::Relaxed);
        if failed >= self.limits.max_consecutive_failures {
            anyhow::bail!(
                "plugin {} is disabled after {failed} failed calls in a row; fix it and \
                 replace the file (it is reloaded) or restart",
                self.info.label()
            );
        }
        let result = sandboxed(&self.engine, &self.limits, &*self.info, function, f);
        match &result {
            Ok(_) => self.consecutive_failures.store(0, Ordering::Relaxed),
            Err(_) => {
                self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    /// An export that returns text, called with its results lifted under
    /// the call's byte budget (lift.rs).
    pub(super) fn call_lifted<P, R>(
        &self,
        function: &str,
        pre: &InstancePre<CallState>,
        export: &Export,
        params: P,
    ) -> Result<R>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        self.call(function, |store| {
            let instance = pre.instantiate(&mut *store)?;
            let f = export.typed::<P, R>(&instance, &mut *store)?;
            bounded(self.limits.memory_bytes, || f.call(&mut *store, params))
        })
    }

    /// A batch call must answer once per input, in order.
    fn expect_len(&self, function: &str, got: usize, want: usize, what: &str) -> Result<()> {
        anyhow::ensure!(
            got == want,
            "plugin {}: {function} returned {got} results for {want} {what}",
            self.info.label()
        );
        Ok(())
    }
}

// Every export is called through `Export` with the latest version's types:
// wasmtime checks a call's types by structure, and 0.1's records are 0.2's,
// so one host type serves both; only the options argument differs by line.

#[derive(Clone)]
pub struct RewardPlugin {
    core: Core,
    pre: InstancePre<CallState>,
    score: Export,
}

impl RewardPlugin {
    /// TS / AL / CC and the weighted total per executor, for one episode.
    pub fn score(&self, episode: &reward::Episode) -> Result<Vec<reward::AgentReward>> {
        let (core, pre, export) = (&self.core, &self.pre, &self.score);
        let (out,) = core.line.score(core, pre, export, episode)?;
        let rewards = out.map_err(|e| reported(&*self.core.info, "score", e.0))?;
        self.core
            .expect_len("score", rewards.len(), episode.executors.len(), "executors")?;
        // A NaN would land in traces as null and break resume and reports.
        for r in &rewards {
            for (what, v) in [("ts", r.ts), ("al", r.al), ("cc", r.cc), ("total", r.total)] {
                anyhow::ensure!(
                    v.is_finite(),
                    "plugin {}: score returned a non-finite reward ({what} = {v} for agent {})",
                    self.core.info.label(),
                    r.agent
                );
            }
        }
        Ok(rewards)
    }
}

#[derive(Clone)]
pub struct DatasetAdapterPlugin {
    core: Core,
    pre: InstancePre<CallState>,
    adapt: Export,
}

impl DatasetAdapterPlugin {
    /// Refuses `[dataset] options` the adapter does not declare (a 0.2
    /// adapter; a 0.1 one cannot say what it reads).
    pub fn check_dataset_options(&self, options: &Options) -> Result<()> {
        check_options(
            &self.core.info,
            self.core.line,
            options,
            "[dataset] options",
        )
    }

    /// One result per record; a bad record is an `Err` naming its line.
    /// `options` are the dataset's; `[plugins.options.NAME]` overrides them.
    pub fn adapt(
        &self,
        records: &[dataset_adapter::RawRecord],
        options: &Options,
    ) -> Result<Vec<Result<dataset_adapter::Problem, String>>> {
        type Params<'a> = (&'a [dataset_adapter::RawRecord], &'a Options);
        type Out = (Vec<Result<BoundedProblem, Text>>,);
        let configured = &self.core.options;
        let options: Vec<(String, String)> = options
            .iter()
            .filter(|(k, _)| !configured.iter().any(|(c, _)| c == k))
            .chain(configured.iter())
            .cloned()
            .collect();
        let (out,) = self.core.call_lifted::<Params, Out>(
            "adapt",
            &self.pre,
            &self.adapt,
            (records, &options),
        )?;
        let out: Vec<_> = out
            .into_iter()
            .map(|r| match r {
                Ok(p) => Ok(dataset_adapter::Problem {
                    id: p.id.0,
                    question: p.question.0,
                    answer: p.answer.0,
                    metadata: p.metadata.into_iter().map(|(k, v)| (k.0, v.0)).collect(),
                }),
                Err(e) => Err(e.0),
            })
            .collect();
        self.core
            .expect_len("adapt", out.len(), records.len(), "records")?;
        Ok(out)
    }
}

#[derive(Clone)]
pub struct PromptTemplatePlugin {
    core: Core,
    pre: InstancePre<CallState>,
    render: Export,
}

impl PromptTemplatePlugin {
    /// Messages for each context (e.g. the n executors of a round) in one call.
    /// The template's options from the config become each context's `vars`
    /// (after any the caller set, so the config's win).
    pub fn render(
        &self,
        contexts: &[prompt_template::PromptContext],
    ) -> Result<Vec<Vec<prompt_template::ChatMessage>>> {
        type Params<'a> = (&'a [prompt_template::PromptContext],);
        type Out = (Vec<Result<Vec<BoundedChatMessage>, Text>>,);
        let with_vars: Vec<prompt_template::PromptContext>;
        let contexts = if self.core.options.is_empty() {
            contexts
        } else {
            with_vars = contexts
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    c.vars.extend(self.core.options.iter().cloned());
                    c
                })
                .collect();
            &with_vars
        };
        let (out,) =
            self.core
                .call_lifted::<Params, Out>("render", &self.pre, &self.render, (contexts,))?;
        self.core
            .expect_len("render", out.len(), contexts.len(), "contexts")?;
        out.into_iter()
            .zip(contexts)
            .map(|(r, ctx)| match r {
                Ok(messages) => Ok(messages
                    .into_iter()
                    .map(|m| prompt_template::ChatMessage {
                        role: m.role.0,
                        content: m.content.0,
                    })
                    .collect()),
                Err(e) => Err(reported(
                    &*self.core.info,
                    &format!("render({})", ctx.stage),
                    e.0,
                )),
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct AnswerParserPlugin {
    core: Core,
    pre: InstancePre<CallState>,
    extract: Export,
    equivalent: Export,
}

impl AnswerParserPlugin {
    pub fn extract(&self, texts: &[String]) -> Result<Vec<answer_parser::Extraction>> {
        let (core, pre, export) = (&self.core, &self.pre, &self.extract);
        let (out,) = core.line.extract(core, pre, export, texts)?;
        let out: Vec<_> = out
            .into_iter()
            .map(|e| answer_parser::Extraction {
                answer: e.answer.map(|a| a.0),
                method: e.method.0,
            })
            .collect();
        self.core
            .expect_len("extract", out.len(), texts.len(), "texts")?;
        Ok(out)
    }

    pub fn equivalent(&self, reference: &str, candidates: &[String]) -> Result<Vec<bool>> {
        let (core, pre, export) = (&self.core, &self.pre, &self.equivalent);
        let (out,) = core
            .line
            .equivalent(core, pre, export, reference, candidates)?;
        self.core
            .expect_len("equivalent", out.len(), candidates.len(), "candidates")?;
        Ok(out)
    }
}

macro_rules! info_accessor {
    ($($handle:ident),*) => {$(
        impl $handle {
            pub fn info(&self) -> &Arc<PluginInfo> {
                &self.core.info
            }
        }
    )*};
}
info_accessor!(
    RewardPlugin,
    DatasetAdapterPlugin,
    PromptTemplatePlugin,
    AnswerParserPlugin
);

/// A loaded plugin of any kind.
#[derive(Clone)]
pub enum Plugin {
    Reward(RewardPlugin),
    DatasetAdapter(DatasetAdapterPlugin),
    PromptTemplate(PromptTemplatePlugin),
    AnswerParser(AnswerParserPlugin),
}

impl Plugin {
    pub fn info(&self) -> &Arc<PluginInfo> {
        match self {
            Plugin::Reward(p) => p.info(),
            Plugin::DatasetAdapter(p) => p.info(),
            Plugin::PromptTemplate(p) => p.info(),
            Plugin::AnswerParser(p) => p.info(),
        }
    }

    /// Load one component file: detect its world, link it, read its meta().
    pub fn load(
        engine: &PluginEngine,
        file: &std::path::Path,
        source: &std::path::Path,
        limits: impl Into<PluginPolicy>,
    ) -> Result<Plugin> {
        let bytes = super::engine::read_plugin_file(file)?;
        Plugin::from_bytes(engine, &bytes, file, source, limits)
    }

    /// As [`Plugin::load`], for bytes already read from `file`.
    pub fn from_bytes(
        engine: &PluginEngine,
        bytes: &[u8],
        file: &std::path::Path,
        source: &std::path::Path,
        policy: impl Into<PluginPolicy>,
    ) -> Result<Plugin> {
        let policy: PluginPolicy = policy.into();
        let Loaded {
            component,
            sha256,
            cached,
        } = engine
            .load_bytes(bytes)
            .with_context(|| format!("loading plugin {}", file.display()))?;
        let (kind, wit_version, line) = detect_world(engine.engine(), &component)
            .with_context(|| format!("plugin {}", file.display()))?;
        let pre: InstancePre<CallState> = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| {
                let e = anyhow::Error::from(e);
                match unprovided_imports(engine.engine(), &component) {
                    Some(why) => e.context(why),
                    None => e,
                }
            })
            .with_context(|| format!("plugin {}: linking its imports", file.display()))?;
        let (meta, specs) = line.describe(engine.engine(), &pre, kind, &policy.for_meta(), file)?;
        anyhow::ensure!(
            PluginKind::from(meta.kind) == kind,
            "plugin {}: implements the `{kind}` world but its meta() declares another kind",
            file.display()
        );
        anyhow::ensure!(
            is_plugin_name(&meta.name),
            "plugin {}: meta() name {:?} is not a valid plugin name \
             (lowercase letters, digits, '-', '_'; 1-64 characters)",
            file.display(),
            meta.name
        );
        let options = policy.options_for(&meta.name);
        let info = PluginInfo {
            name: meta.name,
            kind,
            version: meta.version,
            wit_version,
            description: meta.description,
            author: meta.author,
            options: specs.into_iter().map(DeclaredOption::from).collect(),
            file: file.to_path_buf(),
            sha256,
            source: source.to_path_buf(),
            cached,
        };
        let key = format!("[plugins.options.{}]", info.name);
        check_options(&info, line, &options, &key)?;
        let core = Core {
            engine: engine.engine().clone(),
            limits: policy.for_plugin(&info.name),
            info: Arc::new(info),
            line,
            options: options.into(),
            consecutive_failures: Arc::default(),
        };
        // Where each export is, found once (the bindings in describe() have
        // checked the component against its world).
        let export = |function: &str| {
            Export::find(&component, kind, line, function).with_context(|| {
                format!(
                    "plugin {}: no `{function}` export in its {kind} world",
                    file.display()
                )
            })
        };
        Ok(match kind {
            PluginKind::Reward => Plugin::Reward(RewardPlugin {
                core,
                pre,
                score: export("score")?,
            }),
            PluginKind::DatasetAdapter => Plugin::DatasetAdapter(DatasetAdapterPlugin {
                core,
                pre,
                adapt: export("adapt")?,
            }),
            PluginKind::PromptTemplate => Plugin::PromptTemplate(PromptTemplatePlugin {
                core,
                pre,
                render: export("render")?,
            }),
            PluginKind::AnswerParser => Plugin::AnswerParser(AnswerParserPlugin {
                core,
                pre,
                extract: export("extract")?,
                equivalent: export("equivalent")?,
            }),
        })
    }
}

/// Names travel in file names, configs and traces: keep them plain.
pub fn is_plugin_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// WASI p2 interfaces the host links (with no capability behind them).
const PROVIDED: [&str; 6] = [
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
];

/// The names of the interfaces a component imports and exports (what an
/// OCI artifact's config lists).
pub fn component_interfaces(
    engine: &super::PluginEngine,
    bytes: &[u8],
) -> Result<(Vec<String>, Vec<String>)> {
    let component = engine.load_bytes(bytes)?.component;
    let ty = component.component_type();
    let imports = ty
        .imports(engine.engine())
        .map(|(n, _)| n.to_string())
        .collect();
    let exports = ty
        .exports(engine.engine())
        .map(|(n, _)| n.to_string())
        .collect();
    Ok((imports, exports))
}

/// The component's imports the host does not provide, said with what to do
/// about them (for the toolchains whose defaults import them); None when
/// every import is one the host links.
fn unprovided_imports(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Option<String> {
    let missing: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| !PROVIDED.iter().any(|p| name.starts_with(p)))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut why = format!(
        "it imports {}, which this host does not provide (plugins get no network, and \
         only the WASI interfaces a language runtime needs)",
        missing
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if missing.iter().any(|m| m.starts_with("wasi:http/")) {
        why.push_str(
            "; componentize-js imports wasi:http by default: build with \
             `jco componentize ... --disable http --disable fetch-event` \
             (componentize-js: `-d http -d fetch-event`); see docs/plugins.md",
        );
    }
    Some(why)
}
