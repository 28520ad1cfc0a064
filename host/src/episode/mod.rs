//! One episode = one problem (docs/method.md, "One episode"): strategy, executors
//! under their belief networks' actions, commitment, BNE rounds with the
//! convergence guard, answer parser, reward plugin, learner records.

mod agreement;
pub mod bne;
pub mod comparisons;
mod mode;
mod observation;
pub mod rescore;
mod round;
mod strategy;
pub mod summary;
pub mod trace;

pub use mode::{Mode, Phase, refinements, seed_stream};
pub use observation::{embed_with, observation_text, observation_texts, observe};

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::embed::{Embedder, cosine};
use crate::learn::{Learner, RoundRecord, StepRecord};
use crate::llm::{ChatRequest, LlmClient, Message, Sampling};
use crate::nets::Action;
use crate::plugins::dataset_adapter::Problem;
use crate::plugins::prompt_template::{ChatMessage, PromptContext};
use crate::plugins::{AnswerParserPlugin, PluginRegistry, PromptTemplatePlugin, RewardPlugin};
use crate::rng::{Call, CallSite};
use bne::StopReason;
pub(crate) use round::{Failure, Step, Usage, conclude, fatal, plugin};
use round::{ask_executors, judge};
use trace::{AgentRewardTrace, RoundTrace, StepTrace, Trace};

/// ECON's stand-in when the coordinator returned no strategy.
pub const FALLBACK_STRATEGY: &str =
    "1. Break the problem into steps. 2. Compute each step. 3. Check the result.";

/// Coordinator sampling, as the reference: a focused strategy, a near-greedy
/// commitment.
const STRATEGY_SAMPLING: Sampling = Sampling {
    temperature: 0.3,
    top_p: 0.4,
    repetition_penalty: 1.1,
};
const COMMITMENT_SAMPLING: Sampling = Sampling {
    temperature: 0.1,
    top_p: 0.3,
    repetition_penalty: 1.05,
};

/// What an episode shares with every other: config, LLM roles, the encoder.
pub struct Resources {
    pub config: Config,
    /// The repetition penalty every executor action is held at, when the
    /// executors' server cannot receive it (`llm.unreachable_actions`).
    pub fixed_penalty: Option<f32>,
    pub coordinator: Arc<dyn LlmClient>,
    pub executor: Arc<dyn LlmClient>,
    /// Shared with blocking threads: an episode embeds its executors' outputs
    /// while the commitment call is in flight.
    pub embedder: Arc<Mutex<Box<dyn Embedder>>>,
    /// Each role's model with its sha256 (`provenance::model_labels`), for
    /// every trace line.
    pub models: Vec<String>,
}

/// A finished episode: its trace line and what the learner stores (one
/// record per decision step; none when the episode failed).
pub struct Outcome {
    pub trace: Trace,
    pub records: Vec<StepRecord>,
    /// Cosine of the last two commitments of the last step (none with one round).
    pub commitment_cos: Option<f64>,
}

/// The plugins one episode runs with, from one registry snapshot: a reload
/// during the episode does not change them.
struct Plugins<'a> {
    prompts: &'a PromptTemplatePlugin,
    parser: &'a AnswerParserPlugin,
    reward: &'a RewardPlugin,
    names: Vec<String>,
    sha256: Vec<String>,
}

impl<'a> Plugins<'a> {
    fn from(config: &Config, registry: &'a PluginRegistry) -> Result<Self> {
        let prompts = registry.prompt_template(&config.plugins.prompts)?;
        let parser = registry.answer_parser(&config.plugins.parser)?;
        let reward = registry.reward(&config.plugins.reward)?;
        let infos = [prompts.info(), parser.info(), reward.info()];
        let names = infos.iter().map(|i| plugin_label(registry, i)).collect();
        let sha256 = infos.iter().map(|i| i.sha256.clone()).collect();
        Ok(Plugins {
            prompts,
            parser,
            reward,
            names,
            sha256,
        })
    }
}

/// What one decision step produced.
struct StepOutput {
    trace: StepTrace,
    rounds: Vec<RoundRecord>,
    commitment_cos: Option<f64>,
    correct: bool,
    final_answer: Option<String>,
    parse_method: String,
}

/// Actions chosen by something other than the belief networks, per
/// (problem, episode index, agent): the reference curves of
/// `econ-host sim curve` (uniformly random actions, the simulated world's
/// best ones). BNE rounds do not run with them.
pub type FixedActions = Arc<dyn Fn(&Problem, u64, usize) -> Action + Send + Sync>;

pub struct Episode<'a> {
    pub res: &'a Resources,
    pub registry: &'a PluginRegistry,
    pub learner: &'a Mutex<Learner>,
    pub problem: &'a Problem,
    pub index: u64,
    pub phase: Phase,
    pub mode: Mode,
    /// None: the belief networks act.
    pub fixed_actions: Option<FixedActions>,
}

impl Episode<'_> {
    /// Run the episode. Err only for failures that must stop the run.
    pub async fn run(&self) -> Result<Outcome> {
        let started = Instant::now();
        let mut usage = Usage::default();
        let mut trace = self.empty_trace();
        let result = self.run_steps(&mut usage, &mut trace).await;
        usage.finish(&mut trace, &self.config().llm, started);
        let (trace, done) = conclude(trace, result, self.index)?;
        let (records, commitment_cos) = done.unwrap_or_default();
        Ok(Outcome {
            trace,
            records,
            commitment_cos,
        })
    }

    fn empty_trace(&self) -> Trace {
        Trace::new(
            self.index,
            self.phase.as_str(),
            self.mode.as_str(),
            self.problem,
        )
    }

    fn config(&self) -> &Config {
        &self.res.config
    }

    /// Rounds allowed after round 0 in this episode.
    fn max_refinements(&self) -> usize {
        if self.fixed_actions.is_some() {
            return 0;
        }
        refinements(&self.config().nets.bne, self.phase, self.mode)
    }

    async fn run_steps(
        &self,
        usage: &mut Usage,
        trace: &mut Trace,
    ) -> Step<(Vec<StepRecord>, Option<f64>)> {
        let plugins = plugin(Plugins::from(self.config(), self.registry))?;
        trace.plugins = plugins.names.clone();
        trace.plugin_sha256 = plugins.sha256.clone();
        trace.models = self.res.models.clone();
        trace.alpha = self.lock_learner().alpha();

        let strategy = self.strategy(&plugins, usage, trace).await?;
        let obs_text = observation_text(&self.problem.question, &strategy);
        let texts = observation_texts(&self.config().nets, &self.problem.question, &strategy);
        let obs = {
            let embedder = self.res.embedder.lock().unwrap_or_else(|e| e.into_inner());
            fatal(observe(&**embedder, &texts))?
        };

        let steps = self.config().env.max_rounds;
        let mut records = Vec::new();
        let mut previous: Option<String> = None;
        let mut last_cos = None;
        for t in 0..steps {
            let done = t + 1 == steps;
            let out = self
                .decision_step(
                    &plugins,
                    usage,
                    t as u32,
                    &strategy,
                    &obs,
                    previous.as_deref(),
                )
                .await?;
            let mut step = out.trace;
            step.observation = obs_text.clone();
            step.done = done;
            previous = step.rounds.last().map(|r| r.commitment.clone());
            trace.final_commitment = previous.clone().unwrap_or_default();
            trace.final_answer = out.final_answer;
            trace.parse_method = out.parse_method;
            trace.correct = out.correct;
            trace.reward = mean(step.rewards.iter().map(|r| r.total));
            last_cos = out.commitment_cos;
            records.push(StepRecord {
                obs: obs.clone(),
                rounds: out.rounds,
                done,
                // The next step observes the same question and strategy.
                next_obs: (!done).then(|| obs.clone()),
            });
            trace.steps.push(step);
        }
        Ok((records, last_cos))
    }

    fn lock_learner(&self) -> std::sync::MutexGuard<'_, Learner> {
        self.learner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let embedder = self.res.embedder.lock().unwrap_or_else(|e| e.into_inner());
        embedder
            .embed(texts)
            .context("computing sentence embeddings")
    }

    fn context(&self, stage: &str, agent: u32, round: u32) -> PromptContext {
        PromptContext {
            stage: stage.into(),
            question: self.problem.question.clone(),
            strategy: String::new(),
            agent,
            n_agents: self.config().nets.n_agents as u32,
            round,
            executor_outputs: Vec::new(),
            previous_commitment: None,
            vars: Vec::new(),
        }
    }

    fn request(
        &self,
        messages: &[ChatMessage],
        sampling: Sampling,
        max_tokens: u32,
        site: CallSite,
    ) -> ChatRequest {
        ChatRequest {
            messages: messages
                .iter()
                .map(|m| Message::new(m.role.clone(), m.content.clone()))
                .collect(),
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            repetition_penalty: sampling.repetition_penalty,
            max_tokens,
            stop: Vec::new(),
            seed: self.config().llm.call_seed(self.config().seed, site),
        }
    }

    /// Where a call of this episode happens, for its seed.
    fn site(&self, call: Call, step: u32, round: u32, agent: u32) -> CallSite {
        CallSite {
            stream: seed_stream(self.config(), self.phase, self.mode),
            episode: self.index,
            step,
            round,
            agent,
            call,
        }
    }

    async fn coordinator_call(
        &self,
        request: &ChatRequest,
        usage: &mut Usage,
        what: &str,
    ) -> Step<String> {
        let t0 = Instant::now();
        let c = fatal(
            self.res
                .coordinator
                .chat(request)
                .await
                .with_context(|| format!("coordinator ({what})")),
        )?;
        usage.llm += t0.elapsed();
        usage.count(true, &c);
        Ok(c.text.trim().to_string())
    }

    /// The coordinator's strategy, checked for length and for the answer.
    async fn strategy(
        &self,
        plugins: &Plugins<'_>,
        usage: &mut Usage,
        trace: &mut Trace,
    ) -> Step<String> {
        let msgs = plugin(
            plugins
                .prompts
                .render(&[self.context("coordinator-strategy", 0, 0)]),
        )?;
        let budget = self.config().env.strategy_max_tokens;
        let site = self.site(Call::Strategy, 0, 0, 0);
        let request = self.request(&msgs[0], STRATEGY_SAMPLING, budget, site);
        let before = usage.tokens.coordinator.completion;
        let mut strategy = self.coordinator_call(&request, usage, "strategy").await?;
        let used = usage.tokens.coordinator.completion - before;
        trace.strategy_tokens = used;
        trace.strategy_truncated = used >= u64::from(budget);
        if strategy.is_empty() {
            strategy = FALLBACK_STRATEGY.to_string();
        }
        // List markers ("1." "2." "3.") are not answers: a strategy's own
        // step numbers must not count as giving the answer away. Every other
        // number in it, and whatever the parser extracts, is checked.
        let unnumbered = strategy::strip_enumeration(&strategy);
        let found = plugin(plugins.parser.extract(std::slice::from_ref(&unnumbered)))?;
        let mut candidates = strategy::numbers_in(&unnumbered);
        candidates.extend(found[0].answer.clone());
        if !candidates.is_empty() {
            let same = plugin(plugins.parser.equivalent(&self.problem.answer, &candidates))?;
            trace.strategy_reveals_answer = same.iter().any(|&s| s);
        }
        trace.strategy = strategy.clone();
        Ok(strategy)
    }

    /// One decision step: round 0 and up to K BNE rounds, each scored.
    // Long on purpose: one decision step as the paper describes it: initial actions,
    // rounds, refinement, the stop rules, scoring; the BNE loop reads top to bottom.
    async fn decision_step(
        &self,
        plugins: &Plugins<'_>,
        usage: &mut Usage,
        t: u32,
        strategy: &str,
        obs: &[f32],
        previous_step_commitment: Option<&str>,
    ) -> Step<StepOutput> {
        let explore = self.phase == Phase::Train;
        let mut actions = match &self.fixed_actions {
            Some(fixed) => (0..self.config().nets.n_agents)
                .map(|i| fixed(self.problem, self.index, i))
                .collect(),
            None => fatal(self.lock_learner().initial_actions(obs, explore))?,
        };
        self.hold_fixed(&mut actions);
        let max_refinements = self.max_refinements();
        let mut rounds: Vec<RoundTrace> = Vec::new();
        let mut records: Vec<RoundRecord> = Vec::new();
        // same[k][j]: round k committed to the same answer as round j < k.
        let mut same: Vec<Vec<bool>> = Vec::new();
        let mut rewards;
        let mut delta = None;
        let mut stop = StopReason::MaxRounds;
        loop {
            let k = rounds.len() as u32;
            let previous = rounds
                .last()
                .map(|r| r.commitment.clone())
                .or_else(|| previous_step_commitment.map(str::to_string))
                .filter(|_| self.config().env.show_previous_commitment);
            let site = |call, agent| self.site(call, t, k, agent);
            let (mut round, mut record) = self
                .round(plugins, usage, site, strategy, &actions, delta, previous)
                .await?;
            rewards = self.score(plugins, strategy, &round, &record, rounds.len() + 1)?;
            let components = components_of(&rewards);
            round.components = Some(components);
            record.components = components;
            let bne = &self.config().nets.bne;
            same.push(agreement::same_answers(
                plugins.parser,
                bne,
                (&round, &record),
                &rounds,
                &records,
            )?);
            rounds.push(round);
            records.push(record);
            if k >= 1
                && let Some(reason) =
                    bne::stop_after_round(rounds.len(), |i, j| same[i.max(j)][i.min(j)], bne)
            {
                stop = reason;
                break;
            }
            // The reference's order: commitment, oscillation, then the
            // actions' move δ_k of the round just run.
            if k >= 1
                && !bne::check_before(bne)
                && delta.is_some_and(|d| bne::actions_settled(d, bne))
            {
                stop = StopReason::ActionDelta;
                break;
            }
            if k as usize >= max_refinements {
                break;
            }
            if self.phase == Phase::Test
                && bne.unanimous_stop
                && agreement::unanimous(
                    plugins.parser,
                    rounds.last().expect("a round was just run"),
                )?
            {
                stop = StopReason::Unanimous;
                break;
            }
            let last = records.last().expect("a round was just run");
            let mut refined = fatal(self.lock_learner().refined_actions(
                obs,
                &actions,
                &last.outputs,
                &last.commitment,
                explore,
            ))?;
            self.hold_fixed(&mut refined.actions);
            self.hold_fixed(&mut refined.proposed);
            let moved = crate::nets::action_delta(&refined.actions, &actions);
            // Training runs its rounds regardless: the RefineModule learns
            // from the rounds it is made to play.
            if self.phase == Phase::Test
                && bne::check_before(bne)
                && bne::actions_settled(moved, bne)
            {
                let proposed = crate::nets::action_delta(&refined.proposed, &actions);
                stop = if refined.vetoed > 0 && !bne::actions_settled(proposed, bne) {
                    StopReason::CriticVeto
                } else {
                    StopReason::ActionDelta
                };
                break;
            }
            delta = Some(moved);
            // The refined actions are adopted before the next round runs with
            // them (the reference broke out first and kept e^{k-1}).
            actions = refined.actions;
        }

        let last = rounds.last().expect("round 0 always runs");
        let last_record = records.last().expect("round 0 always runs");
        let commitment_cos = (records.len() >= 2).then(|| {
            let prev = &records[records.len() - 2];
            f64::from(cosine(&prev.commitment, &last_record.commitment))
        });
        let correct = last.commitment_correct;
        let components = last_record.components;
        let final_answer = last.commitment_answer.clone();
        let parse_method = last.commitment_method.clone();
        Ok(StepOutput {
            trace: StepTrace {
                t,
                observation: String::new(),
                rounds,
                stop_reason: stop,
                converged: stop.converged(),
                commitment_cos,
                rewards,
                components,
                done: true,
            },
            rounds: records,
            commitment_cos,
            correct,
            final_answer,
            parse_method,
        })
    }

    /// Actions as the executors' server can receive them: a dimension it
    /// cannot take held at its fixed value, so that the traces and the
    /// learner see what the model was really asked with.
    fn hold_fixed(&self, actions: &mut [Action]) {
        if let Some(p) = self.res.fixed_penalty {
            for a in actions.iter_mut() {
                a.repetition_penalty = p;
            }
        }
    }

    /// One round: executors under `actions`, then the commitment; answers
    /// parsed and judged, outputs and commitment embedded.
    // Long on purpose: one BNE round: executors, commitment (the outputs embedded
    // meanwhile), the parser's verdicts, the learner's record; the order is the protocol's.
    #[allow(clippy::too_many_arguments)]
    async fn round(
        &self,
        plugins: &Plugins<'_>,
        usage: &mut Usage,
        site: impl Fn(Call, u32) -> CallSite,
        strategy: &str,
        actions: &[Action],
        delta: Option<f64>,
        previous_commitment: Option<String>,
    ) -> Step<(RoundTrace, RoundRecord)> {
        let n = actions.len() as u32;
        let k = site(Call::Commitment, 0).round;
        let contexts: Vec<PromptContext> = (0..n)
            .map(|i| PromptContext {
                strategy: strategy.to_string(),
                previous_commitment: previous_commitment.clone(),
                ..self.context("executor", i, k)
            })
            .collect();
        let rendered = plugin(plugins.prompts.render(&contexts))?;
        let top_p = self.config().nets.sampling.top_p_default as f32;
        let max_tokens = self.config().llm.executor.max_tokens;
        let requests: Vec<ChatRequest> = rendered
            .iter()
            .zip(actions)
            .enumerate()
            .map(|(i, (msgs, e))| {
                let site = site(Call::Executor, i as u32);
                let sampling = Sampling {
                    temperature: e.temperature,
                    top_p,
                    repetition_penalty: e.repetition_penalty,
                };
                self.request(msgs, sampling, max_tokens, site)
            })
            .collect();
        let mut executors =
            ask_executors(&*self.res.executor, &requests, usage, "executor", k).await?;
        let outputs: Vec<String> = executors.iter().map(|e| e.output.clone()).collect();

        let ctx = PromptContext {
            strategy: strategy.to_string(),
            executor_outputs: outputs.clone(),
            previous_commitment,
            ..self.context("coordinator-commitment", 0, k)
        };
        let request = if self.mode.commits() {
            let msgs = plugin(plugins.prompts.render(&[ctx]))?;
            Some(self.request(
                &msgs[0],
                COMMITMENT_SAMPLING,
                self.config().llm.coordinator.max_tokens,
                site(Call::Commitment, 0),
            ))
        } else {
            None
        };
        // The outputs' embeddings are computed while the coordinator commits:
        // off the episode's critical path.
        let embedding_outputs = {
            let embedder = Arc::clone(&self.res.embedder);
            let texts = outputs.clone();
            tokio::task::spawn_blocking(move || embed_with(&embedder, &texts))
        };
        let commitment = match &request {
            Some(r) => Some(self.coordinator_call(r, usage, "commitment").await),
            None => None,
        };
        // Joined even when the commitment failed: a run that stops on that
        // error must not exit while the encoder is still running on its thread.
        let embeddings = embedding_outputs.await;
        let commitment = commitment.transpose()?;
        let embeddings = fatal(
            embeddings
                .context("the embedding thread failed")
                .and_then(|r| r),
        )?;

        // One parser call for the round: n outputs and the commitment.
        let mut texts = outputs.clone();
        texts.extend(commitment.clone());
        let mut verdicts = judge(plugins.parser, &self.problem.answer, &texts)?;
        let commitment_verdict = commitment
            .as_ref()
            .map(|_| verdicts.pop().expect("the commitment was judged"));
        for (ex, v) in executors.iter_mut().zip(verdicts) {
            ex.answer = v.answer;
            ex.correct = v.correct;
        }
        // The majority control: the executors' parsed majority stands in
        // for the commitment (no coordinator call).
        let (commitment, commitment_verdict) = match (commitment, commitment_verdict) {
            (Some(c), Some(v)) => (c, v),
            _ => round::majority_of(&executors),
        };
        let commitment_answer = commitment_verdict.answer;
        let canonical = match &commitment_answer {
            Some(a) => format!("\\boxed{{{a}}}"),
            None => commitment.clone(),
        };
        let commitment_embedding = fatal(self.embed(std::slice::from_ref(&canonical)))?.remove(0);
        let round = RoundTrace {
            round: k,
            delta,
            executors,
            commitment,
            commitment_answer,
            commitment_method: commitment_verdict.method,
            commitment_correct: commitment_verdict.correct,
            commitment_canonical: canonical,
            components: None,
        };
        // Components come with the reward plugin's score of this round.
        let record = round.record(embeddings, commitment_embedding, [0.0; 3]);
        Ok((round, record))
    }

    /// The reward plugin on one round (`rounds`: rounds run so far in this
    /// decision step, this one included).
    fn score(
        &self,
        plugins: &Plugins<'_>,
        strategy: &str,
        last: &RoundTrace,
        record: &RoundRecord,
        rounds: usize,
    ) -> Step<Vec<AgentRewardTrace>> {
        let alpha = self.lock_learner().alpha();
        let episode = last.reward_episode(
            self.problem,
            strategy,
            &record.outputs,
            record.commitment.clone(),
            alpha,
            rounds,
        );
        let rewards = plugin(plugins.reward.score(&episode))?;
        Ok(rewards.iter().map(AgentRewardTrace::from).collect())
    }
}

/// A plugin as traces name it: `name@version`, and where it replaces the
/// built-in plugin of that name, says so.
pub(crate) fn plugin_label(registry: &PluginRegistry, info: &crate::plugins::PluginInfo) -> String {
    match registry.overridden_builtin(&info.name) {
        Some(b) => format!("{} (overrides the built-in {})", info.id(), b.id()),
        None => info.id().to_string(),
    }
}

/// Team reward components (AL, TS, CC): means over the agents.
pub(crate) fn components_of(rewards: &[AgentRewardTrace]) -> [f32; 3] {
    [
        mean(rewards.iter().map(|r| r.al)),
        mean(rewards.iter().map(|r| r.ts)),
        mean(rewards.iter().map(|r| r.cc)),
    ]
}

fn mean(values: impl Iterator<Item = f32>) -> f32 {
    let (sum, n) = values.fold((0f32, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f32 }
}
