//! The foundation pass behind `econ-host run` until the episode runner lands:
//! one coordinator/executors/commitment round per problem through the real
//! plugins and the real embedded model, without belief networks or learning.
//! Executors' (T, p) are spread evenly over the configured bounds.

use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::config::Config;
use crate::llm::local::LocalModel;
use crate::llm::{ChatRequest, Message};
use crate::plugins::{PluginRegistry, prompt_template::PromptContext, reward};

#[derive(Debug, Serialize)]
pub struct EpisodeResult {
    pub id: String,
    pub reference: String,
    pub strategy: String,
    pub executor_outputs: Vec<String>,
    pub commitment: String,
    pub answer: Option<String>,
    pub parse_method: String,
    pub correct: bool,
    pub rewards: Vec<[f32; 4]>,
    pub completion_tokens: u32,
    pub wall_ms: u128,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub episodes: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub skipped_records: Vec<String>,
    pub plugins: Vec<String>,
    pub model: String,
    pub results: Vec<EpisodeResult>,
}

pub fn run(config: &Config, registry: &PluginRegistry, episodes: usize) -> Result<Summary> {
    let adapter = registry.dataset_adapter(&config.dataset.adapter)?;
    let prompts = registry.prompt_template(&config.plugins.prompts)?;
    let parser = registry.answer_parser(&config.plugins.parser)?;
    let scorer = registry.reward(&config.plugins.reward)?;
    let plugins = [adapter.info(), prompts.info(), parser.info(), scorer.info()]
        .iter()
        .map(|i| format!("{}@{}", i.name, i.version))
        .collect();

    let options: Vec<(String, String)> = config
        .dataset
        .options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let path = config
        .dataset
        .path
        .as_ref()
        .context("the smoke run reads dataset.path (not dataset.hf_id)")?;
    let data = crate::data::load_file(&config.resolve(path), adapter, &options)?;

    let model_path = crate::models::resolve(&config.llm.executor.model, &config.base_dir)?;
    let started = Instant::now();
    let model = LocalModel::load(&model_path, config.llm.threads, config.llm.context)?;
    tracing::info!(
        "loaded {} ({:.0}M parameters) in {:.1}s",
        model_path.display(),
        model.n_params() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let mut results = Vec::new();
    for problem in data.problems.iter().take(episodes) {
        let t0 = Instant::now();
        let tokens = std::cell::Cell::new(0u32);
        let request =
            |messages: Vec<Message>, temperature: f32, penalty: f32, max_tokens: u32| ChatRequest {
                messages,
                temperature,
                repetition_penalty: penalty,
                top_p: config.nets.sampling.top_p_default as f32,
                max_tokens,
                stop: Vec::new(),
                seed: config.seed as u32,
            };
        let chat = |messages: Vec<Message>, temperature: f32, penalty: f32, max_tokens: u32| {
            let c = model.chat(&request(messages, temperature, penalty, max_tokens))?;
            tokens.set(tokens.get() + c.completion_tokens);
            anyhow::Ok(c.text.trim().to_string())
        };
        let n = config.nets.n_agents as u32;
        let ctx = |stage: &str, agent: u32, strategy: &str, outputs: &[String]| PromptContext {
            stage: stage.into(),
            question: problem.question.clone(),
            strategy: strategy.into(),
            agent,
            n_agents: n,
            round: 0,
            executor_outputs: outputs.to_vec(),
            previous_commitment: None,
            vars: Vec::new(),
        };
        let coordinator = &config.llm.coordinator;
        let msgs = prompts.render(&[ctx("coordinator-strategy", 0, "", &[])])?;
        let strategy = chat(
            to_messages(&msgs[0]),
            0.3,
            1.1,
            coordinator.max_tokens.min(64),
        )?;

        let contexts: Vec<PromptContext> =
            (0..n).map(|i| ctx("executor", i, &strategy, &[])).collect();
        let rendered = prompts.render(&contexts)?;
        let s = &config.nets.sampling;
        let requests: Vec<ChatRequest> = rendered
            .iter()
            .enumerate()
            .map(|(i, msgs)| {
                let f = (i as f64 + 0.5) / f64::from(n);
                let t = (s.temperature_min + f * (s.temperature_max - s.temperature_min)) as f32;
                let p = (s.p_min + f * (s.p_max - s.p_min)) as f32;
                request(to_messages(msgs), t, p, config.llm.executor.max_tokens)
            })
            .collect();
        // The n executors decode together, one sequence each, in one batch.
        let completions = model.chat_batch(&requests)?;
        tokens.set(tokens.get() + completions.iter().map(|c| c.completion_tokens).sum::<u32>());
        let outputs: Vec<String> = completions
            .iter()
            .map(|c| c.text.trim().to_string())
            .collect();
        let msgs = prompts.render(&[ctx("coordinator-commitment", 0, &strategy, &outputs)])?;
        let commitment = chat(to_messages(&msgs[0]), 0.1, 1.05, coordinator.max_tokens)?;

        let mut texts = outputs.clone();
        texts.push(commitment.clone());
        let extractions = parser.extract(&texts)?;
        let final_answer = extractions
            .last()
            .context("parser returned nothing")?
            .clone();
        let candidates: Vec<String> = extractions
            .iter()
            .map(|e| e.answer.clone().unwrap_or_default())
            .collect();
        let verdicts = parser.equivalent(&problem.answer, &candidates)?;
        let correct = final_answer.answer.is_some() && verdicts[n as usize];

        let episode = reward::Episode {
            problem_id: problem.id.clone(),
            question: problem.question.clone(),
            reference: problem.answer.clone(),
            strategy: strategy.clone(),
            commitment: commitment.clone(),
            commitment_answer: final_answer.answer.clone(),
            commitment_correct: correct,
            // Embeddings arrive with the LLM I/O work; the reward plugin
            // treats empty vectors as "no similarity information".
            commitment_embedding: Vec::new(),
            executors: (0..n as usize)
                .map(|i| reward::ExecutorResult {
                    agent: i as u32,
                    output: outputs[i].clone(),
                    answer: extractions[i].answer.clone(),
                    correct: extractions[i].answer.as_ref().map(|_| verdicts[i]),
                    embedding: Vec::new(),
                    sampling: reward::Sampling {
                        temperature: 0.0,
                        repetition_penalty: 1.0,
                        top_p: config.nets.sampling.top_p_default as f32,
                    },
                })
                .collect(),
            weights: reward::RewardWeights {
                al: 0.4,
                ts: 0.4,
                cc: 0.2,
            },
            rounds: 1,
        };
        let rewards = scorer.score(&episode)?;
        results.push(EpisodeResult {
            id: problem.id.clone(),
            reference: problem.answer.clone(),
            strategy,
            executor_outputs: outputs,
            commitment,
            answer: final_answer.answer,
            parse_method: final_answer.method,
            correct,
            rewards: rewards
                .iter()
                .map(|r| [r.ts, r.al, r.cc, r.total])
                .collect(),
            completion_tokens: tokens.get(),
            wall_ms: t0.elapsed().as_millis(),
        });
    }
    let correct = results.iter().filter(|r| r.correct).count();
    Ok(Summary {
        episodes: results.len(),
        correct,
        accuracy: if results.is_empty() {
            0.0
        } else {
            correct as f64 / results.len() as f64
        },
        skipped_records: data.skipped,
        plugins,
        model: model.path().display().to_string(),
        results,
    })
}

fn to_messages(msgs: &[crate::plugins::prompt_template::ChatMessage]) -> Vec<Message> {
    msgs.iter()
        .map(|m| Message {
            role: m.role.clone(),
            content: m.content.clone(),
        })
        .collect()
}
