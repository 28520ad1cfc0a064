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
use super::limits::{CallState, Limits, LimitsPolicy};
use super::worlds::{
    PluginKind, answer_parser, dataset_adapter, detect_world, prompt_template, reward,
};

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
    pub file: PathBuf,
    pub sha256: String,
    /// The plugin folder it was found in.
    pub source: PathBuf,
    /// The compiled artifact came from the cache (no compilation on this start).
    pub cached: bool,
}

impl Named for PluginInfo {
    fn label(&self) -> String {
        format!("{}@{} ({})", self.name, self.version, self.file.display())
    }
}

/// A file that is not (yet) a plugin: before meta() is known.
struct Unnamed<'a>(&'a std::path::Path);

impl Named for Unnamed<'_> {
    fn label(&self) -> String {
        self.0.display().to_string()
    }
}

/// What every handle shares: the engine, its limits, who it is.
#[derive(Clone)]
struct Core {
    engine: wasmtime::Engine,
    limits: Limits,
    info: Arc<PluginInfo>,
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
    fn call_lifted<P, R>(
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

#[derive(Clone)]
pub struct RewardPlugin {
    core: Core,
    pre: reward::RewardPre<CallState>,
}

impl RewardPlugin {
    /// TS / AL / CC and the weighted total per executor, for one episode.
    pub fn score(&self, episode: &reward::Episode) -> Result<Vec<reward::AgentReward>> {
        let out = self.core.call("score", |store| {
            self.pre
                .instantiate(&mut *store)?
                .econ_plugins_scorer()
                .call_score(store, episode)
        })?;
        let rewards = out.map_err(|e| reported(&*self.core.info, "score", e))?;
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
    pre: dataset_adapter::DatasetAdapterPre<CallState>,
    adapt: Export,
}

impl DatasetAdapterPlugin {
    /// One result per record; a bad record is an `Err` naming its line.
    pub fn adapt(
        &self,
        records: &[dataset_adapter::RawRecord],
        options: &[(String, String)],
    ) -> Result<Vec<Result<dataset_adapter::Problem, String>>> {
        type Params<'a> = (&'a [dataset_adapter::RawRecord], &'a [(String, String)]);
        type Out = (Vec<Result<BoundedProblem, Text>>,);
        let (out,) = self.core.call_lifted::<Params, Out>(
            "adapt",
            self.pre.instance_pre(),
            &self.adapt,
            (records, options),
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
    pre: prompt_template::PromptTemplatePre<CallState>,
    render: Export,
}

impl PromptTemplatePlugin {
    /// Messages for each context (e.g. the n executors of a round) in one call.
    pub fn render(
        &self,
        contexts: &[prompt_template::PromptContext],
    ) -> Result<Vec<Vec<prompt_template::ChatMessage>>> {
        type Params<'a> = (&'a [prompt_template::PromptContext],);
        type Out = (Vec<Result<Vec<BoundedChatMessage>, Text>>,);
        let (out,) = self.core.call_lifted::<Params, Out>(
            "render",
            self.pre.instance_pre(),
            &self.render,
            (contexts,),
        )?;
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
    pre: answer_parser::AnswerParserPre<CallState>,
    extract: Export,
}

impl AnswerParserPlugin {
    pub fn extract(&self, texts: &[String]) -> Result<Vec<answer_parser::Extraction>> {
        type Params<'a> = (&'a [String],);
        type Out = (Vec<BoundedExtraction>,);
        let (out,) = self.core.call_lifted::<Params, Out>(
            "extract",
            self.pre.instance_pre(),
            &self.extract,
            (texts,),
        )?;
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
        let out = self.core.call("equivalent", |store| {
            self.pre
                .instantiate(&mut *store)?
                .econ_plugins_parser()
                .call_equivalent(store, reference, candidates)
        })?;
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
        limits: impl Into<LimitsPolicy>,
    ) -> Result<Plugin> {
        let bytes =
            std::fs::read(file).with_context(|| format!("reading plugin {}", file.display()))?;
        Plugin::from_bytes(engine, &bytes, file, source, limits)
    }

    /// As [`Plugin::load`], for bytes already read from `file`.
    // Long on purpose: loading is one sequence (compile, detect the world, link, run meta()
    // in the sandbox, bind) that each kind goes through; the bind! macro keeps the four
    // kinds in one place.
    pub fn from_bytes(
        engine: &PluginEngine,
        bytes: &[u8],
        file: &std::path::Path,
        source: &std::path::Path,
        limits: impl Into<LimitsPolicy>,
    ) -> Result<Plugin> {
        let policy: LimitsPolicy = limits.into();
        let meta_limits = policy.for_meta();
        let Loaded {
            component,
            sha256,
            cached,
        } = engine
            .load_bytes(bytes)
            .with_context(|| format!("loading plugin {}", file.display()))?;
        let (kind, wit_version) = detect_world(engine.engine(), &component)
            .with_context(|| format!("plugin {}", file.display()))?;
        let pre: InstancePre<CallState> = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("plugin {}: linking its imports", file.display()))?;
        let unnamed = Unnamed(file);
        let core = |name: String, declared: bool, version, description, author| -> Result<Core> {
            anyhow::ensure!(
                declared,
                "plugin {}: implements the `{kind}` world but its meta() declares another kind",
                file.display()
            );
            anyhow::ensure!(
                is_plugin_name(&name),
                "plugin {}: meta() name {name:?} is not a valid plugin name \
                 (lowercase letters, digits, '-', '_'; 1-64 characters)",
                file.display()
            );
            let info = PluginInfo {
                name,
                kind,
                version,
                wit_version: wit_version.clone(),
                description,
                author,
                file: file.to_path_buf(),
                sha256: sha256.clone(),
                source: source.to_path_buf(),
                cached,
            };
            Ok(Core {
                engine: engine.engine().clone(),
                limits: policy.for_plugin(&info.name),
                info: Arc::new(info),
                consecutive_failures: Arc::default(),
            })
        };
        // The exports read through a byte budget (see lift.rs), found once.
        let export = |function: &str| {
            Export::find(&component, kind, function).with_context(|| {
                format!(
                    "plugin {}: no `{function}` export in its {kind} world",
                    file.display()
                )
            })
        };
        // meta() runs in the same sandbox as every other call.
        macro_rules! bind {
            ($module:ident, $Pre:ident, $Variant:ident, $Handle:ident $(, $field:ident)?) => {{
                let pre = $module::$Pre::new(pre)
                    .map_err(anyhow::Error::from)
                    .with_context(|| {
                        format!("plugin {}: binding the {kind} world", file.display())
                    })?;
                let m = sandboxed(engine.engine(), &meta_limits, &unnamed, "meta", |store| {
                    pre.instantiate(&mut *store)?.call_meta(store)
                })?;
                let declared = m.kind == $module::PluginKind::$Variant;
                let core = core(m.name, declared, m.version, m.description, m.author)?;
                Plugin::$Variant($Handle {
                    core,
                    pre,
                    $($field: export(stringify!($field))?,)?
                })
            }};
        }
        Ok(match kind {
            PluginKind::Reward => bind!(reward, RewardPre, Reward, RewardPlugin),
            PluginKind::DatasetAdapter => bind!(
                dataset_adapter,
                DatasetAdapterPre,
                DatasetAdapter,
                DatasetAdapterPlugin,
                adapt
            ),
            PluginKind::PromptTemplate => bind!(
                prompt_template,
                PromptTemplatePre,
                PromptTemplate,
                PromptTemplatePlugin,
                render
            ),
            PluginKind::AnswerParser => bind!(
                answer_parser,
                AnswerParserPre,
                AnswerParser,
                AnswerParserPlugin,
                extract
            ),
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
